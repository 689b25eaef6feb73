/**
 * The page at `/`: pick, drop or click an example image; see it as the model saw it, LM's output and
 * the perturbation LM applied (RDC), the class probabilities, the time taken, and the model's
 * measured clean and robust accuracy from its card.
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Robust Diffusion Classifier</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 760px; margin: 2em auto; padding: 0 1em; color: #222; }
  #drop { border: 2px dashed #888; border-radius: 8px; padding: 1.5em; text-align: center; cursor: pointer; }
  #drop.over { background: #eef; }
  #examples { display: flex; flex-wrap: wrap; gap: 6px; margin: .7em 0; }
  #examples button { border: 1px solid #ccc; background: #fff; padding: 2px; cursor: pointer; font-size: 11px; }
  #examples img, .view img { image-rendering: pixelated; display: block; }
  #examples img { width: 48px; height: 48px; }
  #views { display: flex; gap: 1em; margin-top: 1em; }
  .view img { width: 128px; height: 128px; border: 1px solid #ddd; }
  .view figcaption { font-size: 12px; color: #555; max-width: 140px; }
  .bar { display: flex; align-items: center; margin: 2px 0; }
  .bar span { width: 7em; }
  .bar div { background: #4a7; height: 1em; margin-right: .5em; }
  #top { font-size: 1.3em; margin: .7em 0 .2em; }
  #timing { color: #555; font-size: 13px; }
  #error { color: #b00; }
  #model { background: #f6f6f0; border: 1px solid #e0e0d0; padding: .6em .9em; border-radius: 6px; font-size: 13px; }
  #model li { margin: .2em 0; }
  fieldset { border: none; padding: 0; margin: 1em 0; }
</style>
</head>
<body>
<h1>Robust Diffusion Classifier</h1>
<p>An image classifier made from one class-conditional diffusion model (Chen et al., ICML 2024). Drop a picture or click an example; it is scaled to the model's size.</p>
<div id="model"><strong>This model</strong> <span id="model-summary">(loading…)</span><ul id="measured"></ul><small>For comparison, the paper's RDC (a GPU-trained EDM backbone) reports 89.85 % clean and 75.67 % robust accuracy at ℓ∞ 8/255 on CIFAR-10.</small></div>
<fieldset>
  <label><input type="radio" name="defense" value="rdc" checked> RDC (likelihood maximization, then DC)</label>
  <label><input type="radio" name="defense" value="dc"> DC only</label>
  <label>σ levels <input id="levels" type="number" min="1" max="1000" placeholder="model default" style="width:8em"></label>
</fieldset>
<div id="examples" aria-label="example images from the CIFAR-10 test set"></div>
<div id="drop">Drop an image here, or click to choose one<input id="file" type="file" accept="image/png,image/jpeg,image/webp" hidden></div>
<div id="views">
  <figure class="view" id="view-input" hidden><img alt="the input as the model saw it"><figcaption>the input as the model saw it</figcaption></figure>
  <figure class="view" id="view-lm" hidden><img alt="LM's output"><figcaption>after likelihood maximization (what the DC classified)</figcaption></figure>
  <figure class="view" id="view-delta" hidden><img alt="LM's perturbation"><figcaption id="delta-caption">LM's change</figcaption></figure>
</div>
<div id="top" role="status"></div>
<div id="timing"></div>
<div id="error" role="alert"></div>
<div id="bars"></div>
<p><a href="/docs">API documentation</a> · <a href="/v1/model">model card (JSON)</a></p>
<script>
const $ = (id) => document.getElementById(id);
const drop = $('drop');
const file = $('file');
drop.onclick = () => file.click();
drop.ondragover = (e) => { e.preventDefault(); drop.classList.add('over'); };
drop.ondragleave = () => drop.classList.remove('over');
drop.ondrop = (e) => { e.preventDefault(); drop.classList.remove('over'); if (e.dataTransfer.files[0]) send(e.dataTransfer.files[0]); };
file.onchange = () => { if (file.files[0]) send(file.files[0]); };
const plain = (md) => md.replace(/\\*\\*/g, '').replace(/\`/g, '').replace(/^- /, '');
fetch('/v1/model').then((r) => r.json()).then((m) => {
  const n = m.config.network;
  $('model-summary').textContent = n.arch + ', ' + m.config.classes.length + ' classes, ' + n.image.channels + '×' + n.image.height + '×' + n.image.width + ' images. Measured (from its card):';
  const list = $('measured');
  const items = Object.entries(m.measured || {});
  if (!items.length) list.innerHTML = '<li>no measured accuracy recorded in its card</li>';
  for (const [, md] of items) { const li = document.createElement('li'); li.textContent = plain(md).split(' Command:')[0]; list.appendChild(li); }
}).catch(() => { $('model-summary').textContent = '(model information unavailable)'; });
fetch('/v1/examples').then((r) => r.json()).then((list) => {
  for (const e of list) {
    const b = document.createElement('button');
    b.title = e.label + ' (CIFAR-10 test image ' + e.testIndex + ')';
    b.innerHTML = '<img alt=""><span></span>';
    b.children[0].src = e.url;
    b.children[0].alt = e.label;
    b.children[1].textContent = e.label;
    b.onclick = async () => send(await (await fetch(e.url)).blob());
    $('examples').appendChild(b);
  }
});
function show(id, src) { const f = $(id); f.hidden = !src; if (src) f.querySelector('img').src = src; }
async function send(f) {
  $('error').textContent = '';
  $('top').textContent = 'Classifying…';
  $('timing').textContent = '';
  $('bars').innerHTML = '';
  for (const id of ['view-input', 'view-lm', 'view-delta']) show(id, null);
  const params = new URLSearchParams({ defense: document.querySelector('input[name=defense]:checked').value, explain: 'true' });
  const levels = $('levels').value;
  if (levels) params.set('levels', levels);
  try {
    const t0 = performance.now();
    const res = await fetch('/v1/classify?' + params, { method: 'POST', body: f, headers: { 'content-type': f.type || 'application/octet-stream' } });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error ? body.error.message : res.statusText);
    show('view-input', body.explain && body.explain.input);
    show('view-lm', body.explain && body.explain.lm);
    show('view-delta', body.explain && body.explain.perturbation);
    if (body.explain && body.explain.perturbation)
      $('delta-caption').textContent = "LM's change, ×" + body.explain.perturbationGain.toFixed(1) + ' around grey (ℓ∞ ' + (255 * body.explain.perturbationLinf).toFixed(1) + '/255, ℓ2 ' + body.explain.perturbationL2.toFixed(2) + ')';
    $('top').textContent = body.top.label + ' (' + (100 * body.top.probability).toFixed(1) + ' %)';
    const t = body.timings;
    $('timing').textContent = (t.lmMs !== undefined ? 'LM ' + t.lmMs.toFixed(0) + ' ms, ' : '') + 'DC ' + t.dcMs.toFixed(0) + ' ms (' + body.options.levels + ' σ levels); ' + (performance.now() - t0).toFixed(0) + ' ms in all';
    const bars = $('bars');
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
    $('top').textContent = '';
    $('error').textContent = 'Error: ' + err.message;
  }
}
</script>
</body>
</html>
`;
