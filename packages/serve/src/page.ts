/** The page at `/`: drop or pick an image, see the prediction and the class probabilities as bars. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Robust Diffusion Classifier</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 720px; margin: 2em auto; padding: 0 1em; color: #222; }
  #drop { border: 2px dashed #888; border-radius: 8px; padding: 2em; text-align: center; cursor: pointer; }
  #drop.over { background: #eef; }
  #preview { image-rendering: pixelated; width: 128px; height: 128px; margin-top: 1em; display: none; }
  .bar { display: flex; align-items: center; margin: 2px 0; }
  .bar span { width: 7em; }
  .bar div { background: #4a7; height: 1em; margin-right: .5em; }
  #top { font-size: 1.3em; margin: .7em 0; }
  #error { color: #b00; }
  fieldset { border: none; padding: 0; margin: 1em 0; }
</style>
</head>
<body>
<h1>Robust Diffusion Classifier</h1>
<p>An image classifier made from one class-conditional diffusion model (Chen et al., ICML 2024). Drop a picture; it is scaled to the model's size.</p>
<fieldset>
  <label><input type="radio" name="defense" value="rdc" checked> RDC (likelihood maximization, then DC)</label>
  <label><input type="radio" name="defense" value="dc"> DC only</label>
  <label>σ levels <input id="levels" type="number" min="1" max="1000" placeholder="model default" style="width:8em"></label>
</fieldset>
<div id="drop">Drop an image here, or click to choose one<input id="file" type="file" accept="image/png,image/jpeg,image/webp" hidden></div>
<img id="preview" alt="the image sent">
<div id="top" role="status"></div>
<div id="error" role="alert"></div>
<div id="bars"></div>
<p><a href="/docs">API documentation</a></p>
<script>
const drop = document.getElementById('drop');
const file = document.getElementById('file');
drop.onclick = () => file.click();
drop.ondragover = (e) => { e.preventDefault(); drop.classList.add('over'); };
drop.ondragleave = () => drop.classList.remove('over');
drop.ondrop = (e) => { e.preventDefault(); drop.classList.remove('over'); if (e.dataTransfer.files[0]) send(e.dataTransfer.files[0]); };
file.onchange = () => { if (file.files[0]) send(file.files[0]); };
async function send(f) {
  document.getElementById('error').textContent = '';
  document.getElementById('top').textContent = 'Classifying…';
  document.getElementById('bars').innerHTML = '';
  const preview = document.getElementById('preview');
  preview.src = URL.createObjectURL(f);
  preview.style.display = 'block';
  const params = new URLSearchParams({ defense: document.querySelector('input[name=defense]:checked').value });
  const levels = document.getElementById('levels').value;
  if (levels) params.set('levels', levels);
  try {
    const res = await fetch('/v1/classify?' + params, { method: 'POST', body: f, headers: { 'content-type': f.type || 'application/octet-stream' } });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error ? body.error.message : res.statusText);
    document.getElementById('top').textContent = body.top.label + ' (' + (100 * body.top.probability).toFixed(1) + ' %)';
    const bars = document.getElementById('bars');
    for (const p of body.probabilities) {
      const row = document.createElement('div');
      row.className = 'bar';
      row.innerHTML = '<span></span><div></div><em></em>';
      row.children[0].textContent = p.label;
      row.children[1].style.width = (300 * p.probability).toFixed(0) + 'px';
      row.children[2].textContent = (100 * p.probability).toFixed(1) + ' %';
      bars.appendChild(row);
    }
  } catch (err) {
    document.getElementById('top').textContent = '';
    document.getElementById('error').textContent = 'Error: ' + err.message;
  }
}
</script>
</body>
</html>
`;
