// Recur explore: the page of one served model. Everything it needs comes from this server's JSON endpoints.
'use strict';

const $ = id => document.getElementById(id);

function showError(message) {
  const box = $('error');
  box.textContent = message;
  box.hidden = !message;
}

// a GET without a body, else a POST of it as JSON; a refusal throws the server's problem detail
async function send(path, body) {
  const response = await fetch(path, body === undefined ? {} : {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try { const problem = await response.json(); detail = problem.detail || problem.title || detail; } catch { }
    throw new Error(detail);
  }
  return response;
}

async function call(path, body) {
  return (await send(path, body)).json();
}

async function guarded(button, work) {
  showError('');
  if (button) button.disabled = true;
  try { await work(); } catch (e) { showError(e.message); } finally { if (button) button.disabled = false; }
}

function element(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

// ---- colours and heatmaps ----

// diverging: −1 blue, 0 white, +1 red; sequential: 0 white, 1 dark blue
function colour(value, diverging) {
  if (!Number.isFinite(value)) return 'rgb(220,220,220)';
  if (diverging) {
    const v = Math.max(-1, Math.min(1, value));
    const a = Math.round(255 * (1 - Math.abs(v)));
    return v >= 0 ? `rgb(255,${a},${a})` : `rgb(${a},${a},255)`;
  }
  const v = Math.max(0, Math.min(1, value));
  return `rgb(${Math.round(255 - 215 * v)},${Math.round(255 - 175 * v)},${Math.round(255 - 55 * v)})`;
}

// rows × columns of values on a canvas, with labels; returns the geometry for hit testing
function drawHeatmap(canvas, values, rowLabels, columnLabels, diverging, cell = 14) {
  const left = 48, top = 70;
  const rows = values.length, columns = rows ? values[0].length : 0;
  canvas.width = left + columns * cell + 4;
  canvas.height = top + rows * cell + 4;
  const g = canvas.getContext('2d');
  g.fillStyle = 'white';
  g.fillRect(0, 0, canvas.width, canvas.height);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < columns; c++) {
      g.fillStyle = colour(values[r][c], diverging);
      g.fillRect(left + c * cell, top + r * cell, cell - 1, cell - 1);
    }
  g.fillStyle = '#333';
  g.font = '11px monospace';
  g.textAlign = 'right';
  for (let r = 0; r < rows; r++) g.fillText(rowLabels[r], left - 4, top + r * cell + cell - 3);
  for (let c = 0; c < columns; c++) {
    g.save();
    g.translate(left + c * cell + cell - 3, top - 4);
    g.rotate(-Math.PI / 2);
    g.textAlign = 'left';
    g.fillText(columnLabels[c].slice(0, 9), 0, 0);
    g.restore();
  }
  canvas.dataset.rows = rows;
  canvas.dataset.columns = columns;
  return { left, top, cell, rows, columns };
}

function cellAt(geometry, canvas, event) {
  const box = canvas.getBoundingClientRect();
  const c = Math.floor((event.clientX - box.left - geometry.left) / geometry.cell);
  const r = Math.floor((event.clientY - box.top - geometry.top) / geometry.cell);
  return r >= 0 && r < geometry.rows && c >= 0 && c < geometry.columns ? { r, c } : null;
}

function shownToken(t) {
  return t.replace(/\n/g, '↵').replace(/ /g, '\u00a0') || '∅';
}

// ---- language model ----

const lm = { activations: null, text: '', units: [], geometry: null, selected: null, start: null };

async function generate() {
  const prompt = $('prompt').value;
  const body = {
    prompt, length: +$('length').value, temperature: +$('temperature').value, topK: +$('top-k').value,
    topP: +$('top-p').value, beam: +$('beam').value, seed: +$('seed').value,
  };
  const out = $('generated');
  out.textContent = '';
  out.appendChild(element('span', 'prompt', prompt));
  const continuation = element('span', 'continuation');
  out.appendChild(continuation);
  const response = await send('/generate', body);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '', finished = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const message = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = 'message', data = '';
      for (const line of message.split('\n')) {
        if (line.startsWith('event: ')) name = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      const payload = JSON.parse(data);
      if (name === 'message') continuation.textContent += payload.text;
      else if (name === 'done') finished = payload;
      else if (name === 'error') throw new Error(payload.message);
    }
  }
  out.dataset.done = 'true';
  if (finished) await explainText(prompt + finished.text);
}

async function explainText(text) {
  const info = window.recurInfo;
  lm.activations = await call('/explain', { text: truncateForExplain(text, info.details.maxExplainTokens) });
  lm.text = text;
  lm.selected = null;
  const source = $('map-source');
  source.textContent = '';
  source.appendChild(new Option('hidden state h (top layer)', 'hidden'));
  lm.activations.layers.forEach((layer, l) => layer.gates.forEach((gate, g) =>
    source.appendChild(new Option(`${layer.layer}: ${gate} gate`, `${l}/${g}`))));
  drawActivations();
}

// the page asks for at most the server's token limit: a long generation is explained from its end
function truncateForExplain(text, maxTokens) {
  return text.length > maxTokens ? text.slice(text.length - maxTokens) : text;
}

function currentMatrix() {
  const a = lm.activations;
  const choice = $('map-source').value;
  if (choice === 'hidden' || !choice) return { values: a.hidden, diverging: true };
  const [l, g] = choice.split('/').map(Number);
  return { values: a.layers[l].values[g], diverging: false };
}

function drawActivations() {
  const a = lm.activations;
  if (!a) return;
  const { values, diverging } = currentMatrix();
  const width = values[0].length, steps = values.length;
  const count = Math.min(width, Math.max(1, +$('unit-count').value || 48));
  // the units that vary most over the text, in unit order
  const spread = [];
  for (let u = 0; u < width; u++) {
    let mean = 0, square = 0;
    for (let t = 0; t < steps; t++) { mean += values[t][u]; square += values[t][u] ** 2; }
    mean /= steps;
    spread.push([square / steps - mean * mean, u]);
  }
  lm.units = spread.sort((x, y) => y[0] - x[0]).slice(0, count).map(x => x[1]).sort((x, y) => x - y);
  const matrix = lm.units.map(u => values.map(row => row[u]));
  lm.geometry = drawHeatmap($('heatmap'), matrix, lm.units.map(String), a.tokens.map(shownToken), diverging);
  drawTokens();
}

function drawTokens(matches) {
  const a = lm.activations, box = $('tokens');
  box.textContent = '';
  const { values, diverging } = currentMatrix();
  a.tokens.forEach((token, t) => {
    const span = element('span', 'tok', shownToken(token));
    span.dataset.index = t;
    span.title = `token ${t}` + (t > 0 ? `, P = ${a.next[t].toFixed(3)}` : '')
      + (lm.selected !== null ? `, unit ${lm.selected} = ${values[t][lm.selected].toFixed(3)}` : '');
    if (lm.selected !== null) span.style.background = colour(values[t][lm.selected], diverging);
    if (matches && matches.some(m => t >= m.start && t < m.end)) span.classList.add('match');
    box.appendChild(span);
  });
}

async function findUnits(start, end) {
  const result = await call('/units', {
    text: truncateForExplain(lm.text, window.recurInfo.details.maxExplainTokens), start, end,
    threshold: +$('threshold').value,
  });
  $('unit-search').textContent = result.units.length === 0
    ? `No unit is on over tokens ${start}–${end - 1}; try a lower threshold.`
    : `Units on over tokens ${start}–${end - 1}: ${result.units.join(', ')} — together also at `
      + `${result.matches.length} span(s), marked below.`;
  $('unit-search').dataset.units = result.units.join(',');
  drawTokens(result.matches);
}

function setUpLanguageModel() {
  $('generate').addEventListener('click', e => guarded(e.target, generate));
  $('read').addEventListener('click', e => guarded(e.target, () => explainText($('prompt').value)));
  $('map-source').addEventListener('change', drawActivations);
  $('unit-count').addEventListener('change', drawActivations);
  $('heatmap').addEventListener('click', e => {
    if (!lm.geometry) return;
    const hit = cellAt(lm.geometry, $('heatmap'), e);
    if (!hit) return;
    lm.selected = lm.units[hit.r];
    $('selected-unit').textContent = `unit ${lm.selected} colours the text`;
    drawTokens();
  });
  $('tokens').addEventListener('mousedown', e => {
    if (e.target.dataset.index !== undefined) { lm.start = +e.target.dataset.index; e.preventDefault(); }
  });
  $('tokens').addEventListener('mouseup', e => {
    if (lm.start === null || e.target.dataset.index === undefined) return;
    const a = lm.start, b = +e.target.dataset.index;
    lm.start = null;
    guarded(null, () => findUnits(Math.min(a, b), Math.max(a, b) + 1));
  });
}

// ---- classifier ----

async function classify() {
  const text = $('text').value;
  const answer = await call('/predict', { texts: [text] });
  const prediction = answer.predictions[0];
  const box = $('probabilities');
  box.textContent = '';
  for (const [label, p] of Object.entries(prediction.probabilities).sort((x, y) => y[1] - x[1])) {
    const row = element('div', 'bar-row');
    row.appendChild(element('span', 'bar-label', label));
    const bar = element('span', 'bar');
    bar.style.width = `${Math.round(300 * p)}px`;
    row.appendChild(bar);
    row.appendChild(element('span', 'bar-value', `${(100 * p).toFixed(1)}%`));
    if (label === prediction.label) row.classList.add('predicted');
    box.appendChild(row);
  }
  box.dataset.label = prediction.label;
  const explanation = $('explanation');
  explanation.textContent = '';
  if (!window.recurInfo.details.explainsBy) {
    $('explanation-title').textContent = 'This classifier pools without attention: no per-word weights.';
    return;
  }
  const why = await call('/explain', { text });
  $('explanation-title').textContent = `Why ${why.label}: ${why.by}`;
  const all = why.blocks.flatMap(b => b.words.map(w => Math.abs(w.weight)));
  const scale = Math.max(1e-12, ...all);
  for (const block of why.blocks) {
    const line = element('p', 'block');
    if (block.label !== null && block.label !== undefined) line.appendChild(element('span', 'block-label',
      block.label));
    for (const w of block.words) {
      const span = element('span', 'word', w.word);
      span.title = w.weight.toFixed(4);
      span.style.background = colour(w.weight / scale, why.by !== 'attention');
      line.appendChild(span);
      line.appendChild(document.createTextNode(' '));
    }
    explanation.appendChild(line);
  }
  explanation.dataset.words = all.length;
}

// ---- tagger ----

const entityColours = ['#ffd8a8', '#b2f2bb', '#a5d8ff', '#eebefa', '#ffec99', '#c5f6fa', '#ffc9c9'];

async function tagText() {
  const text = $('tag-text').value;
  // a tagger without per-token probabilities (an HMM) answers /predict only
  const withMarginals = window.recurInfo.details.marginals;
  const result = withMarginals ? await call('/explain', { text })
    : { tagged: (await call('/predict', { texts: [text] })).results[0], tagNames: [], marginals: [] };
  const tagged = result.tagged;
  const types = [...new Set(tagged.entities.map(e => e.type))].sort();
  const box = $('entities');
  box.textContent = '';
  tagged.tokens.forEach((token, t) => {
    const entity = tagged.entities.find(e => t >= e.start && t < e.end);
    const span = element('span', entity ? 'tok entity' : 'tok', token);
    span.title = tagged.tags[t];
    if (entity) {
      span.style.background = entityColours[types.indexOf(entity.type) % entityColours.length];
      if (t === entity.end - 1) span.appendChild(element('sup', 'entity-type', entity.type));
    }
    box.appendChild(span);
  });
  box.dataset.entities = tagged.entities.length;
  const table = $('marginals');
  table.textContent = '';
  const head = element('tr');
  head.appendChild(element('th', '', 'token'));
  result.tagNames.forEach(n => head.appendChild(element('th', '', n)));
  table.appendChild(head);
  result.marginals.forEach((row, t) => {
    const tr = element('tr');
    tr.appendChild(element('td', 'token', tagged.tokens[t]));
    row.forEach(p => {
      const td = element('td', 'p', p >= 0.005 ? p.toFixed(2) : '');
      td.style.background = colour(p, false);
      tr.appendChild(td);
    });
    table.appendChild(tr);
  });
}

// ---- translator ----

async function translate() {
  const answer = await call('/predict', { texts: [$('source').value], beam: +$('beam-width').value });
  const t = answer.translations[0];
  $('translation').textContent = t.text;
  const canvas = $('attention');
  if (t.attention.length === 0) {
    $('attention-info').textContent = 'This model translates without attention.';
    canvas.width = canvas.height = 0;
    return;
  }
  const target = t.target;
  const geometry = drawHeatmap(canvas, t.attention, target.map(s => s.slice(0, 6)), t.source, false, 22);
  canvas.onmousemove = e => {
    const hit = cellAt(geometry, canvas, e);
    if (hit) $('attention-info').textContent =
      `${target[hit.r]} ← ${t.source[hit.c]}: ${t.attention[hit.r][hit.c].toFixed(3)}`;
  };
}

// ---- charts ----

const svgNs = 'http://www.w3.org/2000/svg';

function svgElement(tag, attributes, text) {
  const e = document.createElementNS(svgNs, tag);
  for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// series: [{name, points: [[x, y]], colour, dashed}], band: {lower: [[x, y]], upper: [[x, y]]}
function lineChart(svg, title, series, band) {
  svg.textContent = '';
  const width = +svg.getAttribute('width'), height = +svg.getAttribute('height');
  const left = 60, right = 150, top = 28, bottom = 30;
  const all = series.flatMap(s => s.points).concat(band ? band.lower.concat(band.upper) : [])
    .filter(p => Number.isFinite(p[1]));
  if (all.length === 0) return;
  let [x0, x1] = [Math.min(...all.map(p => p[0])), Math.max(...all.map(p => p[0]))];
  let [y0, y1] = [Math.min(...all.map(p => p[1])), Math.max(...all.map(p => p[1]))];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= 1; y1 += 1; }
  const X = x => left + (x - x0) / (x1 - x0) * (width - left - right);
  const Y = y => top + (1 - (y - y0) / (y1 - y0)) * (height - top - bottom);
  svg.appendChild(svgElement('text', { x: left, y: 16, class: 'chart-title' }, title));
  svg.appendChild(svgElement('line', { x1: left, y1: Y(y0), x2: width - right, y2: Y(y0), class: 'axis' }));
  svg.appendChild(svgElement('line', { x1: left, y1: top, x2: left, y2: Y(y0), class: 'axis' }));
  for (const y of [y0, (y0 + y1) / 2, y1])
    svg.appendChild(svgElement('text', { x: left - 6, y: Y(y) + 4, class: 'tick', 'text-anchor': 'end' },
      +y.toPrecision(4)));
  for (const x of [x0, x1])
    svg.appendChild(svgElement('text', { x: X(x), y: height - 10, class: 'tick', 'text-anchor': 'middle' }, x));
  if (band) {
    const path = band.upper.map(p => `${X(p[0])},${Y(p[1])}`)
      .concat(band.lower.slice().reverse().map(p => `${X(p[0])},${Y(p[1])}`));
    svg.appendChild(svgElement('polygon', { points: path.join(' '), class: 'band' }));
  }
  series.forEach((s, i) => {
    const points = s.points.filter(p => Number.isFinite(p[1])).map(p => `${X(p[0])},${Y(p[1])}`).join(' ');
    svg.appendChild(svgElement('polyline', {
      points, fill: 'none', stroke: s.colour, 'stroke-width': 2, 'stroke-dasharray': s.dashed ? '5,4' : 'none',
      class: 'series', 'data-name': s.name,
    }));
    svg.appendChild(svgElement('text', { x: width - right + 10, y: top + 14 + 16 * i, fill: s.colour }, s.name));
  });
}

async function forecast() {
  const history = $('history').value.split(/[\s,;]+/).filter(s => s.length > 0).map(Number);
  if (history.some(v => !Number.isFinite(v))) throw new Error('The series has something that is not a number.');
  const answer = await call('/predict', { history, steps: +$('steps').value });
  const n = history.length;
  const future = answer.forecast.map((v, k) => [n + k, v]);
  const band = answer.lower ? {
    lower: answer.lower.map((v, k) => [n + k, v]), upper: answer.upper.map((v, k) => [n + k, v]),
  } : null;
  lineChart($('forecast-chart'), band ? `forecast with its ${Math.round(100 * answer.coverage)}% interval`
    : 'forecast', [
    { name: 'history', points: history.map((v, t) => [t, v]), colour: '#1c7ed6' },
    { name: 'forecast', points: [[n - 1, history[n - 1]], ...future], colour: '#e8590c', dashed: true },
  ], band);
  const table = $('forecast-table');
  table.textContent = '';
  answer.forecast.forEach((v, k) => {
    const tr = element('tr');
    tr.appendChild(element('td', '', `+${k + 1}`));
    tr.appendChild(element('td', 'p', v.toFixed(2)));
    if (answer.lower) tr.appendChild(element('td', 'p', `[${answer.lower[k].toFixed(2)}, ${answer.upper[k]
      .toFixed(2)}]`));
    table.appendChild(tr);
  });
}

async function drawCurves() {
  const records = await call('/metrics');
  const box = $('curves');
  box.textContent = '';
  // the loss first, then the rest by name; timings say nothing about learning
  const names = [...new Set(records.flatMap(r => Object.keys(r.values)))]
    .filter(n => !/seconds|per_second|_per_s$/.test(n))
    .sort((x, y) => (x === 'loss' ? -1 : y === 'loss' ? 1 : x.localeCompare(y)));
  const palette = ['#1c7ed6', '#e8590c', '#2f9e44', '#9c36b5'];
  for (const name of names) {
    const types = [...new Set(records.filter(r => name in r.values).map(r => r.type))];
    const svg = svgElement('svg', { width: 600, height: 260, class: 'curve', 'data-metric': name });
    box.appendChild(svg);
    lineChart(svg, name, types.map((type, i) => ({
      name: type, colour: palette[i % palette.length],
      points: records.filter(r => r.type === type && name in r.values).map(r => [r.step, r.values[name]]),
    })));
  }
  box.dataset.metrics = names.length;
}

// ---- start ----

async function start() {
  const info = await call('/info');
  window.recurInfo = info;
  $('model-name').textContent = info.name;
  $('model-details').textContent = Object.entries(info.details)
    .filter(([k, v]) => v !== null && typeof v !== 'object' && !k.startsWith('max'))
    .map(([k, v]) => `${k} ${v}`).join(' · ');
  document.body.dataset.kind = info.kind;
  $('training-tab').hidden = !info.hasMetrics;
  if (info.kind === 'run') {
    // a run without a model view: its curves are the page
    $('tabs').hidden = true;
    $('view-training').hidden = false;
    document.body.dataset.ready = 'true';
    await drawCurves();
    return;
  }
  const view = $(`view-${info.kind}`);
  view.hidden = false;
  document.querySelectorAll('#tabs button').forEach(b => b.addEventListener('click', () => {
    document.querySelectorAll('#tabs button').forEach(x => x.classList.toggle('active', x === b));
    view.hidden = b.dataset.tab !== 'model';
    $('view-training').hidden = b.dataset.tab !== 'training';
    if (b.dataset.tab === 'training') guarded(null, drawCurves);
  }));
  if (info.kind === 'language-model') setUpLanguageModel();
  $('classify').addEventListener('click', e => guarded(e.target, classify));
  $('tag').addEventListener('click', e => guarded(e.target, tagText));
  $('translate').addEventListener('click', e => guarded(e.target, translate));
  $('forecast').addEventListener('click', e => guarded(e.target, forecast));
  document.body.dataset.ready = 'true';
}

guarded(null, start);
