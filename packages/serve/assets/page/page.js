// The page at `/`: pick a picture, classify it, attack it against every classifier on the server
// (progress from POST /v1/attack's server-sent events), certify it (progress from POST
// /v1/certify's). Every figure shown is the API's: the models' measured figures come from
// GET /v1/models (`measured`), the forms' defaults and bounds from GET /v1/options, and every
// verdict from the answer's `verdict` or `certified` field.
'use strict';
const $ = (id) => document.getElementById(id);
const state = { picture: null, example: null, models: [], options: null, results: {}, progress: {}, busy: false };
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
const interval = (ci) => '[' + (100 * ci[0]).toFixed(1) + ', ' + (100 * ci[1]).toFixed(1) + ']';
const epsText = (f) => (f.norm === 'linf' ? Math.round(f.eps * 255) + '/255' : 'ℓ2 ' + f.eps.toFixed(2));
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

// ---- the models and what was measured on them ----
const KIND = {
  unet: 'a diffusion model: one network that removes noise from pictures of each class. Served as the DC and the RDC.',
  cnn: 'an ordinary convolutional network trained to name the class directly: the baseline.',
  gmm: 'a small Gaussian-mixture test model.',
  imported: 'a classifier imported from ONNX (your own network, exported from PyTorch): attacked and certified as it is, beside the diffusion classifier.',
};
/** A model that names the class itself (the baseline CNN or an imported network), not a diffusion model. */
const namesClass = (m) => m.arch === 'cnn' || m.arch === 'imported';
/** How a plain model is named in the columns and choices. */
const plainName = (m) => (m.arch === 'cnn' ? 'CNN (' + m.name + ')' : m.title);
const DEFENSE = { none: 'CNN', dc: 'DC', rdc: 'RDC' };
const BASE = { none: 'the network', dc: 'the DC', apndc: 'APNDC', epndc: 'EPNDC' };
const classifierName = (m, f) => (namesClass(m) ? plainName(m) : DEFENSE[f.defense] + ' (' + m.name + ')');

/** How a robust figure was measured: its protocol, images and re-check rule. */
const budgetText = (f) => 'protocol ' + f.protocol + ', ' + f.images + ' test images, rule ' + f.rule;

/** One line per measured setting: the robust figures at each ε, with the budget, the rule and the null attack. */
function robustLines(m) {
  const groups = new Map();
  for (const f of m.measured.robust) {
    const key = [f.defense, f.method || '', f.norm, f.protocol, f.rule, f.images].join('|');
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(f);
  }
  return [...groups.values()].map((fs) => {
    const f = fs[0];
    fs.sort((a, b) => a.eps - b.eps);
    return (
      (namesClass(m) ? plainName(m) : DEFENSE[f.defense]) +
      ' under attack (' +
      (f.norm === 'linf' ? 'ℓ∞' : 'ℓ2') +
      ', ' +
      budgetText(f) +
      '): ' +
      fs
        .map(
          (x) =>
            epsText(x) +
            ' ' +
            pct(x.accuracy) +
            ' ' +
            interval(x.ci95) +
            (x.accuracy === 0 ? ' (every image taken)' : '') +
            ', null attack ' +
            pct(x.nullAttack),
        )
        .join('; ')
    );
  });
}

/** One line per certification: certified accuracy at each radius, with σ, the abstentions and the images. */
function certifiedLines(m) {
  const groups = new Map();
  for (const f of m.measured.certified) {
    const key = [f.base, f.sigma, f.images, f.abstained].join('|');
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(f);
  }
  return [...groups.values()].map((fs) => {
    const f = fs[0];
    return (
      'Certified ℓ2 robustness of ' +
      BASE[f.base] +
      ' (σ = ' +
      f.sigma +
      ', ' +
      f.images +
      ' test images, ' +
      pct(f.abstained) +
      ' abstained): ' +
      fs.map((x) => 'radius ' + x.radius + ' ' + pct(x.accuracy) + ' ' + interval(x.ci95)).join('; ')
    );
  });
}

function modelBox(m) {
  const box = el('div', { class: 'model', 'data-model': m.name });
  box.append(el('h3', { text: m.name + ': ' + (KIND[m.arch] || m.arch) }));
  if (m.description) box.append(el('p', { text: plain(m.description) }));
  if (m.guard && m.guard.label) box.append(el('p', { class: 'guard', text: m.guard.label }));
  const list = el('ul', { class: 'measured' });
  const clean = Object.entries(m.measured.sections)
    .filter(([name]) => name.startsWith('eval-'))
    .map(([, md]) => plain(md).split(' Command:')[0]);
  const lines = [...clean, ...robustLines(m), ...certifiedLines(m)];
  if (!lines.length) list.append(el('li', { text: 'Nothing measured is recorded in its card yet.' }));
  for (const line of lines) list.append(el('li', { text: line }));
  box.append(list);
  const links = el('small');
  links.append(
    el('a', { href: '/models/' + encodeURIComponent(m.name) + '/card', text: 'model card' }),
    ' (how each figure was measured: command, machine, images)',
  );
  box.append(links);
  return box;
}

/**
 * The opening's sentence on robustness, from the measured figures only: at each ℓ∞ ε the worst case
 * of every classifier measured there, and the ε from which every one is at 0 %.
 */
function claims(models) {
  const byEps = new Map();
  for (const m of models)
    for (const f of m.measured.robust) {
      if (f.norm !== 'linf') continue;
      if (!byEps.has(f.eps)) byEps.set(f.eps, []);
      byEps.get(f.eps).push({ name: classifierName(m, f), f });
    }
  if (!byEps.size) return 'No robust accuracy is recorded for the models on this server yet: nothing is claimed about their robustness.';
  const eps = [...byEps.keys()].sort((a, b) => a - b);
  const parts = eps.map(
    (e) =>
      epsText({ eps: e, norm: 'linf' }) +
      ': ' +
      byEps
        .get(e)
        .map((x) => x.name + ' ' + pct(x.f.accuracy))
        .join(', '),
  );
  const f = byEps.get(eps[0])[0].f;
  const zero = eps.find((e) => eps.filter((x) => x >= e).every((x) => byEps.get(x).every((y) => y.f.accuracy === 0)));
  return (
    'Measured on the models here (worst case over the attacks, ℓ∞, ' +
    budgetText(f) +
    '): ' +
    parts.join('; ') +
    '.' +
    (zero !== undefined ? ' From ' + epsText({ eps: zero, norm: 'linf' }) + ' on, every classifier measured is at 0 %: the attacks take every image.' : '')
  );
}

/** The ℓ∞ ε at which the measured classifiers differ most (where an attack shows the most), in 1/255. */
function telling(models) {
  const byEps = new Map();
  for (const m of models) for (const f of m.measured.robust) if (f.norm === 'linf') byEps.set(f.eps, [...(byEps.get(f.eps) || []), f.accuracy]);
  let best = null;
  for (const [e, accs] of byEps) {
    if (accs.length < 2) continue;
    const spread = Math.max(...accs) - Math.min(...accs);
    if (best === null || spread > best.spread) best = { e, spread };
  }
  return best && best.spread > 0 ? Math.round(best.e * 255) : null;
}

/** The classifiers the lab can attack: each model's defenses. */
function targetsOf(models) {
  const out = [];
  for (const m of models)
    for (const d of m.defenses)
      out.push({
        key: namesClass(m) ? m.name : m.name + ':' + d,
        model: m.name,
        defense: d,
        cnn: namesClass(m),
        name: namesClass(m) ? plainName(m) : d.toUpperCase() + ' (' + m.name + ')',
        checked: m.name === 'cnn' || m.name === 'default',
      });
  return out;
}

Promise.all([api('/v1/models'), api('/v1/options')])
  .then(([{ models }, options]) => {
    state.models = models;
    state.options = options;
    const box = $('models');
    box.textContent = '';
    for (const m of models) box.append(modelBox(m));
    $('claims').textContent = claims(models);
    const def = models.find((m) => m.name === 'default') || models.find((m) => !namesClass(m));
    if (!def || !def.defenses.includes('rdc')) document.querySelector('input[name=defense][value=rdc]').closest('label').hidden = true;
    if (!def) document.querySelector('input[name=defense][value=dc]').closest('label').hidden = true;
    if (!models.some((m) => m.arch === 'cnn')) document.querySelector('input[name=defense][value=cnn]').closest('label').hidden = true;
    // Each imported classifier: a choice of its own.
    for (const m of models.filter((x) => x.arch === 'imported')) {
      const input = el('input', { type: 'radio', name: 'defense', value: 'model:' + m.name });
      $('classify-options').append(el('label', { class: 'choice' }, input, el('span', { text: m.title + ' (imported)' })));
    }
    const checked = document.querySelector('input[name=defense]:checked');
    if (checked.closest('label').hidden) document.querySelector('#classify-options label:not([hidden]) input').checked = true;
    const targets = $('targets');
    for (const t of targetsOf(models)) {
      const input = el('input', { type: 'checkbox', value: t.key });
      input.checked = t.checked;
      targets.append(el('label', { class: 'choice' }, input, el('span', { text: t.name })));
    }
    const truth = $('truth');
    for (const c of (def || models[0]).classes) truth.append(el('option', { value: c, text: c }));
    applyOptions(options, telling(models));
  })
  .catch((err) => {
    $('models').textContent = '(the models could not be listed: ' + err.message + ')';
  });

// ---- picking a picture ----
const drop = $('drop');
const file = $('file');
drop.onclick = () => file.click();
// Enter and Space open the picker; every other key (Tab, Shift+Tab) does what it does anywhere.
drop.onkeydown = (e) => {
  if (e.key === 'Enter' || e.key === ' ') {
    e.preventDefault();
    file.click();
  }
};
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
      const b = el(
        'button',
        { type: 'button', title: e.label + ' (CIFAR-10 test picture ' + e.testIndex + ')' },
        el('img', { alt: 'a ' + e.label + ' (CIFAR-10 test picture ' + e.testIndex + ')', src: e.url }),
        el('span', { text: e.label }),
      );
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
  $('truth').value = example ? example.label : '';
  $('picked').textContent = example
    ? 'Picked: a ' + example.label + ' (CIFAR-10 test picture ' + example.testIndex + ').'
    : 'Picked: your picture (' + (blob.name || blob.type || 'image') + ').';
  $('classify').disabled = false;
  $('attack-all').disabled = false;
  $('rows').textContent = '';
  $('lab-views').hidden = true;
  for (const k of Object.keys(state.results)) delete state.results[k];
  classify();
}
$('classify').onclick = () => classify();
/** The picture's true class as the page knows it: the example's label, or the one the user chose; null when unknown. */
const truth = () => $('truth').value || null;

// ---- classifying ----
function show(id, src) {
  const f = $(id);
  f.hidden = !src;
  if (src) f.querySelector('img').src = src;
}
function classifyTarget() {
  const choice = document.querySelector('input[name=defense]:checked').value;
  if (choice.startsWith('model:')) return { model: choice.slice(6), defense: 'none' };
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
  if ($('weighting').value && t.defense !== 'none') params.set('weighting', $('weighting').value);
  try {
    const t0 = performance.now();
    const body = await api('/v1/classify?' + params, {
      method: 'POST',
      body: state.picture,
      headers: { 'content-type': state.picture.type || 'application/octet-stream' },
    });
    const x = body.explain || {};
    show('view-input', x.input);
    show('view-lm', x.lm);
    show('view-delta', x.perturbation);
    if (x.perturbation)
      $('delta-caption').textContent =
        "LM's change, ×" +
        x.perturbationGain.toFixed(1) +
        ' around grey (ℓ∞ ' +
        (255 * x.perturbationLinf).toFixed(1) +
        '/255, ℓ2 ' +
        x.perturbationL2.toFixed(2) +
        ')';
    $('top').textContent = body.top.label + ' (' + pct(body.top.probability) + ')';
    const known = truth();
    if (known) {
      const right = body.top.label === known;
      $('verdict').className = right ? 'right' : 'wrong';
      $('verdict').textContent = right ? '✓ Right: it is a ' + known + '.' : '✗ Wrong: it is a ' + known + '.';
    }
    const tm = body.timings;
    const stage =
      body.options.defense === 'none'
        ? 'CNN ' + tm.dcMs.toFixed(0) + ' ms'
        : (tm.lmMs !== undefined ? 'LM ' + tm.lmMs.toFixed(0) + ' ms, ' : '') + 'DC ' + tm.dcMs.toFixed(0) + ' ms (' + body.options.levels + ' σ levels)';
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

// ---- the attack lab: its form from GET /v1/options ----
const norm = $('norm');
const eps = $('eps');
/** ℓ∞ ε in 1/255 steps up to the limit; ℓ2 in steps of 1/20 of its limit. */
const STEPS_L2 = 20;
function epsValue() {
  return norm.value === 'linf' ? eps.value + '/255' : ((Number(eps.value) / STEPS_L2) * state.options.attack.eps.l2.max).toFixed(3);
}
function epsNumber() {
  return norm.value === 'linf' ? Number(eps.value) / 255 : (Number(eps.value) / STEPS_L2) * state.options.attack.eps.l2.max;
}
function updateEps() {
  $('eps-text').textContent = epsValue();
}
function setNorm(preset) {
  const e = state.options.attack.eps;
  eps.min = '1';
  eps.max = norm.value === 'linf' ? String(Math.round(e.linf.max * 255)) : String(STEPS_L2);
  eps.value = norm.value === 'linf' ? String(preset ?? Math.round(e.linf.default * 255)) : String(Math.round((e.l2.default / e.l2.max) * STEPS_L2));
  updateEps();
}
function applyOptions(o, presetEps) {
  for (const id of ['levels', 'attack-levels']) {
    $(id).min = String(o.levels.min);
    $(id).max = String(o.levels.max);
  }
  $('attack-levels').value = String(o.attack.levels);
  $('iterations').max = String(o.attack.iterations.max);
  $('iterations').value = String(o.attack.iterations.default);
  const names = { 'apgd-ce': 'APGD (cross-entropy)', 'apgd-dlr': 'APGD (DLR)', pgd: 'PGD' };
  $('attack').textContent = '';
  for (const a of o.attack.attacks) $('attack').append(el('option', { value: a, text: names[a] || a }));
  $('attack').value = o.attack.attack;
  setNorm(presetEps);
  $('eps-note').textContent = presetEps !== null ? 'preset to ' + presetEps + '/255, where the measured figures of the models differ most' : '';
}
norm.onchange = () => setNorm(null);
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

/** POST with an event stream: `onProgress` for each progress event; the result, or the error the stream (or the answer) carries. */
async function streamed(path, onProgress) {
  const res = await fetch(path, {
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
    if (event === 'progress') onProgress(data);
    else if (event === 'result') result = data;
    else if (event === 'error') throw new Error(data.error.message);
  });
  if (!result) throw new Error('the stream ended without a result');
  return result;
}

function answerText(a, k) {
  const agree = a.draws.filter((d) => d === a.top.index).length;
  return a.top.label + ' (' + pct(a.top.probability) + (k > 1 ? ', ' + agree + ' of ' + k + ' re-checks' : '') + ')';
}

function rowFor(t) {
  const row = el('div', { class: 'row', 'data-target': t.key });
  row.append(el('h3', { text: t.name }));
  row.append(el('div', { class: 'images' }));
  const info = el(
    'div',
    { class: 'info' },
    el('progress', { max: '1', value: '0', 'aria-label': 'attack progress' }),
    el('div', { class: 'status', role: 'status', text: 'waiting…' }),
    el('div', { class: 'answers' }),
    el('div', { class: 'cert' }),
  );
  row.append(info);
  $('rows').append(row);
  return row;
}

async function attackTarget(t, row) {
  const status = row.querySelector('.status');
  const bar = row.querySelector('progress');
  const params = new URLSearchParams({
    model: t.model,
    defense: t.defense,
    norm: norm.value,
    eps: epsValue(),
    attack: $('attack').value,
    iterations: $('iterations').value,
    seed: $('seed').value,
  });
  if (!t.cnn) params.set('levels', $('attack-levels').value);
  if (truth()) params.set('label', truth());
  status.textContent = 'attacking…';
  const result = await streamed('/v1/attack?' + params, (data) => {
    state.progress[t.key] = (state.progress[t.key] || 0) + 1;
    bar.max = data.iterations;
    bar.value = data.iteration;
    status.textContent = 'iteration ' + data.iteration + ' of ' + data.iterations + (data.answer ? ': the attack sees ' + data.answer.label : '');
  });
  bar.max = 1;
  bar.value = 1;
  state.results[t.key] = result;
  showResult(t, row, result);
}

/** What each verdict of an attack means, in words (GET /v1/attack's `verdict`). */
const VERDICTS = {
  held: ['held', 'Held: right before the attack and right after it'],
  fooled: ['fooled', 'Fooled: right before the attack, wrong after it'],
  'wrong-before': ['wrong-before', 'Wrong before the attack: it proves nothing about robustness'],
  'made-right': ['made-right', 'Made right: wrong before the attack, right after it'],
  changed: ['changed', 'Changed: the answer changed (the true class is unknown, so right or wrong is not said)'],
  unchanged: ['unchanged', 'Unchanged: the answer stayed (the true class is unknown, so right or wrong is not said)'],
};

function showResult(t, row, r) {
  $('lab-clean').src = r.input;
  $('lab-views').hidden = false;
  const images = row.querySelector('.images');
  images.textContent = '';
  const fig = (src, caption, cls) => el('figure', {}, el('img', { src, alt: caption, class: cls }), el('figcaption', { text: caption }));
  images.append(fig(r.adversarial.image, 'the attacked picture', 'adversarial'));
  images.append(fig(r.adversarial.perturbation, 'the change, ×' + r.adversarial.perturbationGain.toFixed(0) + ' around grey', 'perturbation'));
  const k = r.options.recheck;
  const size = 'ℓ∞ ' + (255 * r.adversarial.linf).toFixed(1) + '/255, ℓ2 ' + r.adversarial.l2.toFixed(2);
  row.querySelector('.status').textContent =
    r.iterations +
    (r.iterations === 1 ? ' iteration, ' : ' iterations, ') +
    r.queries +
    ' queries, ' +
    (r.timings.attackMs / 1000).toFixed(1) +
    ' s; change: ' +
    size;
  row.setAttribute('data-verdict', r.verdict);
  const answers = row.querySelector('.answers');
  answers.textContent = '';
  answers.append(el('div', { class: 'before', text: 'Before: ' + answerText(r.clean, k) }));
  answers.append(el('div', { class: 'after', text: 'After: ' + answerText(r.attacked, k) }));
  const [cls, words] = VERDICTS[r.verdict];
  answers.append(
    el('div', {
      class: 'verdict ' + cls,
      'data-verdict': r.verdict,
      text: words + ' (' + r.options.rule + ' of ' + k + ' re-checks' + (r.trueLabel ? '; it is a ' + r.trueLabel : '') + ').',
    }),
  );
  const cert = row.querySelector('.cert');
  cert.textContent = '';
  const button = el('button', { type: 'button', class: 'certify', text: 'Certify' });
  button.onclick = () => certifyTarget(t, row, r);
  cert.append(button);
}

/** The σ a model's certifications were measured with (its card), else the API's default. */
function sigmaOf(t, base) {
  const m = state.models.find((x) => x.name === t.model);
  const f = m && (m.measured.certified.find((x) => x.base === base) || m.measured.certified[0]);
  return f ? f.sigma : state.options.certify.sigma;
}

async function certifyTarget(t, row, r) {
  const cert = row.querySelector('.cert');
  const base = t.cnn ? 'none' : $('cert-base').value || (t.defense === 'rdc' ? 'apndc' : 'dc');
  const params = new URLSearchParams({ model: t.model, base, sigma: String(sigmaOf(t, base)), seed: $('seed').value });
  if (truth()) params.set('label', truth());
  cert.textContent = '';
  const status = el('span', { class: 'cert-status', role: 'status', text: 'certifying (' + base + ')…' });
  cert.append(status);
  try {
    const c = await streamed('/v1/certify?' + params, (p) => {
      status.textContent =
        'certifying (' +
        base +
        '): ' +
        (p.stage === 'select' ? 'choosing the class, ' : 'bounding its probability, ') +
        p.done +
        ' of ' +
        p.total +
        ' noisy draws';
    });
    state.results[t.key + ':certificate'] = c;
    cert.setAttribute('data-certified', c.certified);
    const inside =
      ' This attack changed the picture by ℓ2 ' +
      r.adversarial.l2.toFixed(3) +
      (r.adversarial.l2 < c.radius ? ': inside the certified radius.' : ': beyond the certified radius, so the certificate says nothing about it.');
    const claim = 'the smoothed classifier (noise σ = ' + c.sigma + ') answers ' + c.label + ' for every change of ℓ2 size below ' + c.radius.toFixed(3) + '.';
    const text = {
      abstained: 'Certificate: abstained (the smoothed classifier is not sure enough of any class with ' + c.n + ' draws).',
      certified: 'Certified: ' + claim + inside,
      'certified-right': 'Certified and right: ' + claim + inside,
      'certified-wrong': 'Certified, but wrong: ' + claim + ' It is a ' + c.trueLabel + ': a wrong answer certified is an error, not a success.',
    }[c.certified];
    status.remove();
    cert.append(el('span', { class: 'radius ' + c.certified, 'data-certified': c.certified, text }));
  } catch (err) {
    status.remove();
    cert.append(el('span', { class: 'radius failed', text: 'Certificate: ' + err.message }));
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
