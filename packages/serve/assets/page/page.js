// The page at `/`: pick a picture, classify it, attack it against every classifier on the server
// (progress from POST /v1/attack's server-sent events), certify it. Every figure shown is the API's.
'use strict';
const $ = (id) => document.getElementById(id);
const state = { picture: null, example: null, models: [], results: {}, progress: {}, busy: false };
// The page's results (and progress events seen) by classifier, for whoever checks what it shows against the API.
window.labResults = state.results;
window.labProgress = state.progress;

function showError(message) {
  $('error').textContent = message ? 'Error: ' + message : '';
}
// A stale error goes as soon as anything is changed.
for (const type of ['input', 'change']) document.addEventListener(type, () => showError(''));

async function api(path, init) {
  const res = await fetch(path, init);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error ? body.error.message : res.status + ' ' + res.statusText);
  return body;
}
const plain = (md) => md.replace(/\*\*/g, '').replace(/`/g, '').replace(/^- /, '');
const pct = (p) => (100 * p).toFixed(1) + ' %';
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

// ---- the models ----
const KIND = {
  unet: 'a diffusion model: one network that removes noise from pictures of each class. Served as the DC and the RDC.',
  cnn: 'an ordinary convolutional network trained to name the class directly: the baseline.',
  gmm: 'a small Gaussian-mixture test model.',
};
function modelBox(m) {
  const box = el('div', { class: 'model', 'data-model': m.name });
  box.append(el('h3', { text: m.name + ': ' + (KIND[m.arch] || m.arch) }));
  if (m.description) box.append(el('p', { text: plain(m.description) }));
  if (m.guard && m.guard.label) box.append(el('p', { class: 'guard', text: m.guard.label }));
  const list = el('ul', { class: 'measured' });
  const items = Object.values(m.measured || {});
  if (!items.length) list.append(el('li', { text: 'No measured accuracy recorded in its card yet.' }));
  for (const md of items) list.append(el('li', { text: plain(md).split(' Command:')[0] }));
  box.append(list);
  const links = el('small');
  links.append(el('a', { href: '/models/' + encodeURIComponent(m.name) + '/card', text: 'model card' }), ' (how each figure was measured)');
  box.append(links);
  return box;
}

/** The classifiers the lab can attack: each model's defenses. */
function targetsOf(models) {
  const out = [];
  for (const m of models)
    for (const d of m.defenses)
      out.push({
        key: m.arch === 'cnn' ? m.name : m.name + ':' + d,
        model: m.name,
        defense: d,
        cnn: m.arch === 'cnn',
        name: m.arch === 'cnn' ? 'CNN (' + m.name + ')' : d.toUpperCase() + ' (' + m.name + ')',
        checked: m.name === 'cnn' || m.name === 'default',
      });
  return out;
}

api('/v1/models')
  .then(({ models }) => {
    state.models = models;
    const box = $('models');
    box.textContent = '';
    for (const m of models) box.append(modelBox(m));
    const def = models.find((m) => m.name === 'default') || models.find((m) => m.arch !== 'cnn');
    if (!def || !def.defenses.includes('rdc')) document.querySelector('input[name=defense][value=rdc]').closest('label').hidden = true;
    if (!def) document.querySelector('input[name=defense][value=dc]').closest('label').hidden = true;
    if (!models.some((m) => m.arch === 'cnn')) document.querySelector('input[name=defense][value=cnn]').closest('label').hidden = true;
    const checked = document.querySelector('input[name=defense]:checked');
    if (checked.closest('label').hidden) document.querySelector('#classify-options label:not([hidden]) input').checked = true;
    const targets = $('targets');
    for (const t of targetsOf(models)) {
      const input = el('input', { type: 'checkbox', value: t.key });
      input.checked = t.checked;
      targets.append(el('label', { class: 'choice' }, input, el('span', { text: t.name })));
    }
  })
  .catch((err) => {
    $('models').textContent = '(the models could not be listed: ' + err.message + ')';
  });

// ---- picking a picture ----
const drop = $('drop');
const file = $('file');
drop.onclick = () => file.click();
drop.onkeydown = (e) => (e.key === 'Enter' || e.key === ' ') && file.click();
drop.ondragover = (e) => {
  e.preventDefault();
  drop.classList.add('over');
};
drop.ondragleave = () => drop.classList.remove('over');
drop.ondrop = (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  if (e.dataTransfer.files[0]) pick(e.dataTransfer.files[0], null);
};
file.onchange = () => file.files[0] && pick(file.files[0], null);

fetch('/v1/examples')
  .then((r) => r.json())
  .then((list) => {
    for (const e of list) {
      const b = el('button', { type: 'button', title: e.label + ' (CIFAR-10 test picture ' + e.testIndex + ')' }, el('img', { alt: e.label, src: e.url }), el('span', { text: e.label }));
      b.onclick = async () => {
        for (const other of document.querySelectorAll('#examples button')) other.classList.remove('picked');
        b.classList.add('picked');
        pick(await (await fetch(e.url)).blob(), e);
      };
      $('examples').append(b);
    }
  });

function pick(blob, example) {
  state.picture = blob;
  state.example = example;
  if (!example) for (const other of document.querySelectorAll('#examples button')) other.classList.remove('picked');
  $('picked').textContent = example ? 'Picked: a ' + example.label + ' (CIFAR-10 test picture ' + example.testIndex + ').' : 'Picked: your picture (' + (blob.name || blob.type || 'image') + ').';
  $('classify').disabled = false;
  $('attack-all').disabled = false;
  $('rows').textContent = '';
  $('lab-views').hidden = true;
  for (const k of Object.keys(state.results)) delete state.results[k];
  classify();
}
$('classify').onclick = () => classify();

// ---- classifying ----
function show(id, src) {
  const f = $(id);
  f.hidden = !src;
  if (src) f.querySelector('img').src = src;
}
function classifyTarget() {
  const choice = document.querySelector('input[name=defense]:checked').value;
  if (choice === 'cnn') {
    const cnn = state.models.find((m) => m.name === 'cnn') || state.models.find((m) => m.arch === 'cnn');
    return { model: cnn ? cnn.name : 'cnn', defense: 'none' };
  }
  return { model: 'default', defense: choice };
}
async function classify() {
  if (!state.picture) return;
  showError('');
  $('top').textContent = 'Classifying…';
  for (const id of ['timing', 'verdict', 'bars']) $(id).textContent = '';
  $('verdict').className = '';
  for (const id of ['view-input', 'view-lm', 'view-delta']) show(id, null);
  const t = classifyTarget();
  const params = new URLSearchParams({ model: t.model, defense: t.defense, explain: 'true' });
  const levels = $('levels').value;
  if (levels && t.defense !== 'none') params.set('levels', levels);
  try {
    const t0 = performance.now();
    const body = await api('/v1/classify?' + params, { method: 'POST', body: state.picture, headers: { 'content-type': state.picture.type || 'application/octet-stream' } });
    const x = body.explain || {};
    show('view-input', x.input);
    show('view-lm', x.lm);
    show('view-delta', x.perturbation);
    if (x.perturbation)
      $('delta-caption').textContent = "LM's change, ×" + x.perturbationGain.toFixed(1) + ' around grey (ℓ∞ ' + (255 * x.perturbationLinf).toFixed(1) + '/255, ℓ2 ' + x.perturbationL2.toFixed(2) + ')';
    $('top').textContent = body.top.label + ' (' + pct(body.top.probability) + ')';
    if (state.example) {
      const right = body.top.label === state.example.label;
      $('verdict').className = right ? 'right' : 'wrong';
      $('verdict').textContent = right ? '✓ Right: it is a ' + state.example.label + '.' : '✗ Wrong: it is a ' + state.example.label + '.';
    }
    const tm = body.timings;
    const stage = body.options.defense === 'none' ? 'CNN ' + tm.dcMs.toFixed(0) + ' ms' : (tm.lmMs !== undefined ? 'LM ' + tm.lmMs.toFixed(0) + ' ms, ' : '') + 'DC ' + tm.dcMs.toFixed(0) + ' ms (' + body.options.levels + ' σ levels)';
    $('timing').textContent = stage + '; ' + (performance.now() - t0).toFixed(0) + ' ms in all';
    const bars = $('bars');
    for (const p of [...body.probabilities].sort((a, b) => b.probability - a.probability)) {
      const row = el('div', { class: 'bar' }, el('span', { text: p.label }), el('div'), el('em', { text: pct(p.probability) }));
      row.children[1].style.width = (300 * p.probability).toFixed(0) + 'px';
      bars.append(row);
    }
  } catch (err) {
    $('top').textContent = '';
    showError(err.message);
  }
}

// ---- the attack lab ----
const norm = $('norm');
const eps = $('eps');
function epsValue() {
  return norm.value === 'linf' ? eps.value + '/255' : (Number(eps.value) / 20).toFixed(2);
}
function epsNumber() {
  return norm.value === 'linf' ? Number(eps.value) / 255 : Number(eps.value) / 20;
}
function updateEps() {
  $('eps-text').textContent = norm.value === 'linf' ? eps.value + '/255' : epsValue();
}
norm.onchange = () => {
  // ℓ∞: 1/255 … 16/255; ℓ2: 0.05 … 1.00 in steps of 0.05.
  eps.max = norm.value === 'linf' ? '16' : '20';
  eps.value = norm.value === 'linf' ? '8' : '10';
  updateEps();
};
eps.oninput = updateEps;
$('seed').value = String(Math.floor(Math.random() * 1e6));

/** Reads a server-sent event stream: calls `on(event, data)` for each event. */
async function readEvents(res, on) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const event = (/^event: (.*)$/m.exec(block) || [])[1] || 'message';
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      on(event, JSON.parse(data));
    }
  }
}

function answerText(a, k) {
  const agree = a.draws.filter((d) => d === a.top.index).length;
  return a.top.label + ' (' + pct(a.top.probability) + (k > 1 ? ', ' + agree + ' of ' + k + ' re-checks' : '') + ')';
}

function rowFor(t) {
  const row = el('div', { class: 'row', 'data-target': t.key });
  row.append(el('h3', { text: t.name }));
  row.append(el('div', { class: 'images' }));
  const info = el('div', { class: 'info' }, el('progress', { max: '1', value: '0' }), el('div', { class: 'status', text: 'waiting…' }), el('div', { class: 'answers' }), el('div', { class: 'cert' }));
  row.append(info);
  $('rows').append(row);
  return row;
}

async function attackTarget(t, row) {
  const status = row.querySelector('.status');
  const bar = row.querySelector('progress');
  const params = new URLSearchParams({ model: t.model, defense: t.defense, norm: norm.value, eps: epsValue(), attack: $('attack').value, iterations: $('iterations').value, seed: $('seed').value });
  if (!t.cnn) params.set('levels', $('attack-levels').value);
  status.textContent = 'attacking…';
  const res = await fetch('/v1/attack?' + params, {
    method: 'POST',
    body: state.picture,
    headers: { 'content-type': state.picture.type || 'application/octet-stream', accept: 'text/event-stream' },
  });
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    throw new Error(body.error ? body.error.message : res.statusText);
  }
  let result = null;
  await readEvents(res, (event, data) => {
    if (event === 'progress') {
      state.progress[t.key] = (state.progress[t.key] || 0) + 1;
      bar.max = data.iterations;
      bar.value = data.iteration;
      status.textContent = 'iteration ' + data.iteration + ' of ' + data.iterations + (data.answer ? ': the attack sees ' + data.answer.label : '');
    } else if (event === 'result') result = data;
    else if (event === 'error') throw new Error(data.error.message);
  });
  if (!result) throw new Error('the attack ended without a result');
  bar.max = 1;
  bar.value = 1;
  state.results[t.key] = result;
  showResult(t, row, result);
}

function showResult(t, row, r) {
  $('lab-clean').src = r.input;
  $('lab-views').hidden = false;
  const images = row.querySelector('.images');
  images.textContent = '';
  const fig = (src, caption, cls) => el('figure', {}, el('img', { src, alt: caption, class: cls }), el('figcaption', { text: caption }));
  images.append(fig(r.adversarial.image, 'attacked picture', 'adversarial'));
  images.append(fig(r.adversarial.perturbation, 'the change, ×' + r.adversarial.perturbationGain.toFixed(0) + ' around grey', 'perturbation'));
  const k = r.options.recheck;
  const size = 'ℓ∞ ' + (255 * r.adversarial.linf).toFixed(1) + '/255, ℓ2 ' + r.adversarial.l2.toFixed(2);
  row.querySelector('.status').textContent = r.iterations + (r.iterations === 1 ? ' iteration, ' : ' iterations, ') + r.queries + ' queries, ' + (r.timings.attackMs / 1000).toFixed(1) + ' s; change: ' + size;
  const answers = row.querySelector('.answers');
  answers.textContent = '';
  answers.append(el('div', { class: 'before', text: 'Before: ' + answerText(r.clean, k) }));
  answers.append(el('div', { class: 'after', text: 'After: ' + answerText(r.attacked, k) }));
  answers.append(
    el('div', {
      class: r.changed ? 'fooled' : 'held',
      text: r.changed ? 'Fooled: the answer changed (' + r.options.rule + ' of ' + k + ' re-checks).' : 'Held: the answer did not change (' + r.options.rule + ' of ' + k + ' re-checks).',
    }),
  );
  const cert = row.querySelector('.cert');
  cert.textContent = '';
  const button = el('button', { type: 'button', class: 'certify', text: 'Certify' });
  button.onclick = () => certifyTarget(t, row, r);
  cert.append(button);
}

async function certifyTarget(t, row, r) {
  const cert = row.querySelector('.cert');
  const base = t.cnn ? 'none' : t.defense === 'rdc' ? 'apndc' : 'dc';
  const params = new URLSearchParams({ model: t.model, base, seed: $('seed').value });
  cert.textContent = 'certifying (' + base + ')…';
  try {
    const c = await api('/v1/certify?' + params, { method: 'POST', body: state.picture, headers: { 'content-type': state.picture.type || 'application/octet-stream' } });
    state.results[t.key + ':certificate'] = c;
    const text =
      c.prediction < 0
        ? 'Certificate: abstained (the smoothed classifier is not sure enough of any class with ' + c.n + ' draws).'
        : 'Certified: the smoothed classifier (noise τ = ' + c.sigma + ') answers ' + c.label + ' for every change of ℓ2 size below ' + c.radius.toFixed(3) + '. This attack changed the picture by ℓ2 ' + r.adversarial.l2.toFixed(3) + (r.adversarial.l2 < c.radius ? ': inside the certified radius.' : ': beyond the certified radius, so the certificate says nothing about it.');
    cert.append(el('span', { class: 'radius', text }));
  } catch (err) {
    cert.textContent = 'Certificate: ' + err.message;
  }
}

$('attack-all').onclick = async () => {
  if (!state.picture || state.busy) return;
  showError('');
  const chosen = [...document.querySelectorAll('#targets input:checked')].map((i) => i.value);
  const targets = targetsOf(state.models).filter((t) => chosen.includes(t.key));
  if (!targets.length) return showError('choose at least one classifier to attack');
  state.busy = true;
  $('attack-all').disabled = true;
  $('rows').textContent = '';
  for (const k of Object.keys(state.results)) delete state.results[k];
  const rows = targets.map((t) => [t, rowFor(t)]);
  try {
    for (const [t, row] of rows) {
      try {
        await attackTarget(t, row);
      } catch (err) {
        row.querySelector('.status').textContent = 'Error: ' + err.message;
      }
    }
  } finally {
    state.busy = false;
    $('attack-all').disabled = false;
  }
};
// The chosen ε in pixel units, for whoever checks the images shown.
window.labEps = () => ({ norm: norm.value, eps: epsNumber() });
