// The log viewer page: filters → /api/rows (pages of 250, keyset on log_id), infinite scroll,
// live tail (/api/follow about once a second), go to a log id, order, details, jump to a run.
// Messages are shown as text; HTML is rendered only when "Render HTML in messages" is ticked, and
// then inside a shadow root of its own (see setMessage).
'use strict';

const POLL_INTERVAL_MS = 1000;
const TYPING_PAUSE_MS = 300;
/** "3 min ago" is brought up to date this often. */
const RELATIVE_TIME_REFRESH_MS = 15_000;
/** Live tail redraws the volume chart at most this often. */
const CHART_REFRESH_MS = 2000;
/** About one bar per this many pixels of chart. */
const BAR_PX = 10;

const state = {
  order: 'desc',
  /** Cursor of the next page; null once the end is reached. */
  next: null,
  /** Cursor for /api/follow, from the first page. */
  follow: null,
  /** log_id → { row, element } for every row shown. */
  shown: new Map(),
  /** Bumped by every reload: answers to older requests are dropped. */
  generation: 0,
  /** The generation whose next page is being fetched (an older one does not hold up a newer one). */
  loading: null,
  polling: false,
  /** The log id gone to, while that view lasts. */
  at: null,
  /** The selected row's log id (j/k, a click), kept in the address. */
  selected: null,
  /** Applications named by the address, until the list of applications has loaded (null: all). */
  wantedApplications: null,
  /** Whether `view --remote-images` lets logged images from other servers load (from /api/meta). */
  remoteImages: false,
  /** When the volume chart was last asked for (live tail redraws it at most every CHART_REFRESH_MS). */
  chartAt: 0,
  /** Bumped by every chart asked for: the parts of an older one are dropped. */
  chartGeneration: 0,
  /** Live tail brought rows the chart has not counted yet. */
  chartStale: false,
  /** The viewer's time zone (IANA name), from /api/meta or the chart: the time inputs are in it. */
  zone: 'UTC',
};

const byId = (id) => document.getElementById(id);
const tbody = () => byId('rows').tBodies[0];

const { api, guarded } = window.ViewerCommon;

// ---- filters ----

function applicationBoxes() {
  return [...document.querySelectorAll('#applications input[type=checkbox]')];
}

/** The filters as query parameters; null when every application is hidden (nothing to ask for). */
function filterParams() {
  const params = new URLSearchParams();
  const value = (id) => byId(id).value.trim();
  if (value('minutes')) params.set('since', `${value('minutes')}m`);
  else {
    if (value('from')) params.set('since', value('from'));
    if (value('to')) params.set('until', value('to'));
  }
  for (const [id, name] of [
    ['level', 'level'],
    ['run', 'run'],
    ['machine', 'machine'],
    ['tag', 'tag'],
    ['text', 'grep'],
  ]) {
    if (value(id)) params.set(name, value(id));
  }
  if (!byId('third-party').checked) params.set('thirdParty', 'false');
  const boxes = applicationBoxes();
  if (boxes.length === 0) {
    for (const name of state.wantedApplications ?? []) params.append('application', name);
    return params;
  }
  const checked = boxes.filter((box) => box.checked).map((box) => box.value);
  if (boxes.length > 0 && checked.length === 0) return null;
  if (checked.length < boxes.length) for (const name of checked) params.append('application', name);
  return params;
}

// ---- rows ----

/** The page's only styles for logged HTML: the page's own stylesheet does not reach into shadow roots. */
const LOGGED_HTML_SHEET = new CSSStyleSheet();
LOGGED_HTML_SHEET.replaceSync('img { max-width: 320px; max-height: 240px; }');

/**
 * Logged HTML goes into a shadow root of its own: its ids and forms stay there, so it cannot stand
 * in for the page's elements (byId('status') stays the page's), <meta http-equiv> in it is ignored,
 * and the page's Content-Security-Policy leaves it no styles (no 'unsafe-inline') and no scripts.
 * The host element is contained (viewer.css): nothing in it paints outside its cell.
 */
function setMessage(element, message, fold = false) {
  if (!byId('render-html').checked) {
    if (fold) window.ViewerReading.foldedMessage(element, message);
    else element.textContent = message;
    return;
  }
  const host = document.createElement('div');
  host.className = 'logged-html';
  const root = host.attachShadow({ mode: 'open' });
  root.adoptedStyleSheets = [LOGGED_HTML_SHEET];
  root.innerHTML = message;
  element.replaceChildren(host);
}

/** Says why a logged image from another server shows broken, while HTML is rendered. */
function updateImagesNote() {
  byId('remote-images-note').hidden = !byId('render-html').checked || state.remoteImages;
}

function cell(tr, className, text) {
  const td = tr.insertCell();
  td.className = className;
  td.textContent = text;
  return td;
}

function rowElement(row) {
  const tr = document.createElement('tr');
  tr.dataset.id = String(row.log_id);
  tr.dataset.level = row.level;
  // The whole row carries its level: WARNING and above stand out in a page of INFO rows.
  tr.classList.add(`row-${/^[A-Z]+$/.test(row.level) ? row.level : 'OTHER'}`);
  if (!row.open_clone_log) tr.classList.add('third-party');
  cell(tr, 'id', String(row.log_id));
  window.ViewerReading.timeCell(cell(tr, 'time', ''), row.timestamp);
  cell(tr, `level level-${row.level}`, row.level);
  cell(tr, 'application', row.application_name);
  cell(tr, 'machine', row.machine_name);
  cell(tr, 'run', String(row.run_number));
  cell(tr, 'tags', row.tags);
  setMessage(cell(tr, 'message', ''), row.message, true);
  tr.addEventListener('click', () => {
    markSelected(row.log_id);
    void guarded(() => showDetails(row.log_id));
  });
  return tr;
}

/** Whether row a is shown above row b in the current order. */
function above(a, b) {
  return state.order === 'desc' ? a > b : a < b;
}

/** Inserts in log_id order: pages append at the end, live rows usually go to one end. */
function insertInOrder(tr, id) {
  const body = tbody();
  const last = body.lastElementChild;
  if (!last || above(Number(last.dataset.id), id)) return body.append(tr);
  let node = last;
  while (node && above(id, Number(node.dataset.id))) node = node.previousElementSibling;
  if (node) node.after(tr);
  else body.prepend(tr);
}

function addRows(rows, fresh) {
  for (const row of rows) {
    if (state.shown.has(row.log_id)) continue;
    const element = rowElement(row);
    if (fresh) element.classList.add('fresh');
    state.shown.set(row.log_id, { row, element });
    insertInOrder(element, row.log_id);
  }
  updateStatus();
}

function updateStatus() {
  const count = state.shown.size;
  // A rare filter can leave whole windows of the table without a match: say where the search is.
  const searching = count === 0 ? `searching from log id ${state.next}…` : 'scroll for more';
  const end = state.next === null ? 'end of the log' : searching;
  const live = byId('live').checked ? ' · live tail on' : '';
  byId('status').textContent = `${count} row${count === 1 ? '' : 's'} · ${end}${live}`;
}

function clearRows() {
  tbody().replaceChildren();
  state.shown.clear();
  state.next = null;
  state.follow = null;
}

// ---- loading ----

/** Shows the rows of the current filters; `history`: how the address records it (push, replace, none). */
async function reload(history = 'push') {
  const generation = ++state.generation;
  if (history !== 'none') recordAddress(history);
  clearRows();
  const params = filterParams();
  if (!params) {
    byId('status').textContent = 'No application is shown.';
    return;
  }
  byId('status').textContent = 'Loading…';
  params.set('order', state.order);
  if (state.at !== null) params.set('at', String(state.at));
  void guarded(refreshChart);
  const page = await api(`/api/rows?${params}`);
  if (generation !== state.generation) return;
  state.next = page.next ?? null;
  state.follow = page.follow;
  addRows(page.rows, false);
  if (state.at !== null) markTarget(state.at);
  if (state.selected !== null) markSelected(state.selected, false);
  await loadWhileVisible();
}

async function loadMore() {
  const params = filterParams();
  if (state.loading === state.generation || state.next === null || !params) return;
  const generation = state.generation;
  state.loading = generation;
  try {
    params.set('order', state.order);
    params.set('cursor', String(state.next));
    const page = await api(`/api/rows?${params}`);
    if (generation !== state.generation) return;
    state.next = page.next ?? null;
    addRows(page.rows, false);
  } finally {
    if (state.loading === generation) state.loading = null;
  }
}

/** Infinite scroll: pages are fetched while the end of the list is on screen. */
async function loadWhileVisible() {
  const near = () => byId('status').getBoundingClientRect().top < window.innerHeight + 200;
  while (state.next !== null && near() && state.loading !== state.generation) {
    const before = state.next;
    await loadMore();
    if (state.next === before) break;
  }
}

function markTarget(id) {
  const entry = state.shown.get(id) ?? [...state.shown.values()][0];
  if (!entry) return;
  entry.element.classList.add('target');
  entry.element.scrollIntoView({ block: 'center' });
}

// ---- live tail ----

/** A new row is placed only where the loaded list covers it; elsewhere paging will bring it. */
function belongsInList(id) {
  if (state.next === null) return true;
  const ids = [...state.shown.keys()];
  const bottom = state.order === 'desc' ? Math.min(...ids) : Math.max(...ids);
  return above(id, bottom);
}

async function poll() {
  if (!byId('live').checked || !state.follow || state.polling) return;
  // New rows redraw the chart, at most every CHART_REFRESH_MS: deferred, never dropped.
  if (state.chartStale && Date.now() - state.chartAt >= CHART_REFRESH_MS) {
    state.chartStale = false;
    void guarded(refreshChart);
  }
  const params = filterParams();
  if (!params) return;
  const generation = state.generation;
  state.polling = true;
  try {
    params.set('cursor', state.follow);
    const result = await api(`/api/follow?${params}`);
    if (generation !== state.generation) return;
    state.follow = result.cursor;
    if (result.rows.length > 0) state.chartStale = true;
    addRows(
      result.rows.filter((row) => belongsInList(row.log_id)),
      true,
    );
  } finally {
    state.polling = false;
  }
}

// ---- volume chart ----

/** Adds a later part's counts to the chart's buckets (same axis, so the same bucket starts). */
function mergeParts(histogram, part) {
  const byStart = new Map(histogram.buckets.map((bucket) => [bucket.start, bucket]));
  for (const bucket of part.buckets) {
    const known = byStart.get(bucket.start);
    if (!known) byStart.set(bucket.start, bucket);
    else {
      for (const [level, count] of Object.entries(bucket.levels))
        known.levels[level] = (known.levels[level] ?? 0) + count;
      known.first = Math.min(known.first, bucket.first);
      known.last = Math.max(known.last, bucket.last);
    }
  }
  histogram.buckets = [...byStart.values()].sort((a, b) => a.start - b.start);
  histogram.next = part.next;
}

function drawChart(histogram) {
  state.zone = histogram.zone;
  window.VolumeChart.render(byId('volume'), histogram, { onRange: chooseRange, onJump: jumpToBucket });
  byId('volume-note').textContent = histogram.next === undefined ? '' : 'counting older rows…';
}

/**
 * Asks for the chart of the current filters and draws it; a range of many ids comes in parts, newest
 * first, each drawn as it arrives. A newer chart (other filters, or live tail) stops an older one.
 */
async function refreshChart() {
  const params = filterParams();
  const chart = ++state.chartGeneration;
  state.chartAt = Date.now();
  if (!params) return;
  const bars = Math.floor(byId('volume').clientWidth / BAR_PX);
  params.set('buckets', String(Math.min(200, Math.max(10, bars))));
  const histogram = await api(`/api/histogram?${params}`);
  while (chart === state.chartGeneration) {
    drawChart(histogram);
    if (histogram.next === undefined) break;
    const part = new URLSearchParams(params);
    const axis = { from: histogram.from, to: histogram.to, bucketMs: histogram.bucketMs };
    for (const [name, value] of Object.entries({ ...axis, below: histogram.next, lowest: histogram.lowest })) {
      part.set(name, String(value));
    }
    mergeParts(histogram, await api(`/api/histogram?${part}`));
  }
  if (chart === state.chartGeneration) byId('volume').dataset.drawn = String(chart);
}

/** A drag across the chart: that time range, in the time inputs (milliseconds kept). */
function chooseRange(from, to) {
  byId('minutes').value = '';
  byId('from').value = window.VolumeChart.wallTime(from, state.zone, true);
  byId('to').value = window.VolumeChart.wallTime(to - 1, state.zone, true);
  state.at = null;
  void guarded(reload);
}

/** A click on a bar: the rows from that bucket on, in the current order, as "go to log id" does. */
function jumpToBucket(bucket) {
  state.at = state.order === 'desc' ? bucket.last : bucket.first;
  byId('live').checked = false;
  void guarded(reload);
}

// ---- details ----

const DETAIL_FIELDS = [
  'log_id',
  'timestamp',
  'level',
  'application_name',
  'machine_name',
  'ip_address',
  'run_number',
  'tags',
  'open_clone_log',
];

async function showDetails(id) {
  const { row } = await api(`/api/rows/${id}`);
  byId('details-id').textContent = `#${row.log_id}`;
  byId('details-fields').replaceChildren(
    ...DETAIL_FIELDS.flatMap((field) => {
      const term = document.createElement('dt');
      const value = document.createElement('dd');
      term.textContent = field;
      value.textContent = String(row[field]);
      value.dataset.field = field;
      return [term, value];
    }),
  );
  setMessage(byId('details-message'), row.message);
  // OpenClone's table has no record: nothing to show, not an empty table.
  const hasRecord = 'record' in row;
  const fields = hasRecord ? window.ViewerReading.recordTable(byId('details-record-table'), row.record) : 0;
  byId('details-record-title').hidden = !hasRecord;
  byId('details-record-table').hidden = fields === 0;
  byId('details-raw').hidden = !hasRecord;
  byId('details-record').textContent = hasRecord ? JSON.stringify(row.record, null, 2) : '';
  byId('details').showModal();
}

// ---- applications and runs ----

async function loadApplications() {
  const meta = await api('/api/meta');
  document.title = `${meta.table} · log viewer`;
  state.zone = meta.zone;
  state.remoteImages = meta.remoteImages === true;
  updateImagesNote();
  const names = [...new Set(meta.machines.map((pair) => pair.application))];
  byId('applications').append(
    ...names.map((name) => {
      const label = document.createElement('label');
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = !state.wantedApplications || state.wantedApplications.includes(name);
      box.value = name;
      box.addEventListener('change', () => guarded(reload));
      label.append(box, ` ${name}`);
      return label;
    }),
  );
}

async function loadRuns() {
  const params = filterParams() ?? new URLSearchParams();
  const query = new URLSearchParams(params.getAll('application').map((name) => ['application', name]));
  const { runs } = await api(`/api/runs?${query}`);
  const select = byId('runs');
  select.replaceChildren(
    new Option('choose…', ''),
    ...runs.reverse().map((run) => {
      const label = `${run.application_name} ${run.machine_name} run ${run.run_number}`;
      return new Option(label, JSON.stringify([run.application_name, run.machine_name, run.run_number]));
    }),
  );
}

/** Shows one run: its application only, its machine and number; no time range, no log id. */
async function jumpToRun(value) {
  if (!value) return;
  const [application, machine, run] = JSON.parse(value);
  for (const box of applicationBoxes()) box.checked = box.value === application;
  byId('machine').value = machine;
  byId('run').value = String(run);
  for (const id of ['minutes', 'from', 'to']) byId(id).value = '';
  state.at = null;
  await reload();
}

// ---- the address ----

/** The view as the address records it (viewer/address.js). */
function currentView() {
  const boxes = applicationBoxes();
  const checked = boxes.filter((box) => box.checked).map((box) => box.value);
  const applications = boxes.length === 0 ? state.wantedApplications : checked.length < boxes.length ? checked : null;
  return {
    inputs: Object.fromEntries(window.ViewerAddress.INPUTS.map(([id]) => [id, byId(id).value.trim()])),
    thirdParty: byId('third-party').checked,
    applications,
    order: state.order,
    at: state.at,
    row: state.selected,
  };
}

function recordAddress(how) {
  const search = window.ViewerAddress.encode(currentView());
  if (search === location.search.slice(1)) return;
  const url = search ? `?${search}` : location.pathname;
  if (how === 'push') history.pushState(null, '', url);
  else history.replaceState(null, '', url);
}

function setOrder(order) {
  state.order = order;
  byId('order').textContent = order === 'desc' ? 'Newest first' : 'Oldest first';
}

/** Puts the address's view into the controls (at start, and on back and forward). */
function applyAddress() {
  const view = window.ViewerAddress.decode(location.search);
  for (const [id, value] of Object.entries(view.inputs)) byId(id).value = value;
  byId('third-party').checked = view.thirdParty;
  state.wantedApplications = view.applications;
  for (const box of applicationBoxes()) box.checked = !view.applications || view.applications.includes(box.value);
  setOrder(view.order);
  // A selected row named without a place to start from: start at it, so that it is on the page.
  state.at = view.at ?? view.row;
  state.selected = view.row;
}

/** Marks the selected row; `record`: and keeps it in the address (a click, j/k). */
function markSelected(id, record = true) {
  for (const row of tbody().querySelectorAll('tr.selected')) row.classList.remove('selected');
  state.selected = id;
  const entry = state.shown.get(id);
  if (entry) {
    entry.element.classList.add('selected');
    entry.element.scrollIntoView({ block: 'nearest' });
  }
  if (record) recordAddress('replace');
}

// ---- keyboard ----

/** j / k: the next or previous row becomes the selected one. */
function moveSelection(step) {
  const rows = [...tbody().rows];
  const index = rows.findIndex((row) => Number(row.dataset.id) === state.selected);
  const next = rows[index === -1 ? 0 : Math.min(rows.length - 1, Math.max(0, index + step))];
  if (next) markSelected(Number(next.dataset.id));
}

/** Keys act on the list only: typing in a field, or a dialog that is open, keeps its own keys. */
function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey || byId('details').open) return;
  if (['INPUT', 'SELECT', 'TEXTAREA', 'BUTTON', 'A', 'SUMMARY'].includes(event.target.tagName)) return;
  if (event.key === 'j' || event.key === 'k') moveSelection(event.key === 'j' ? 1 : -1);
  else if (event.key === 'Enter' && state.selected !== null) void guarded(() => showDetails(state.selected));
  else if (event.key === '/') byId('text').select();
  else return;
  event.preventDefault();
}

// ---- wiring ----

function debounce(action) {
  let timer;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(action, TYPING_PAUSE_MS);
  };
}

function wire() {
  const refresh = () => guarded(reload);
  const typed = debounce(refresh);
  for (const id of ['run', 'machine', 'tag', 'text', 'minutes']) byId(id).addEventListener('input', typed);
  for (const id of ['level', 'third-party']) byId(id).addEventListener('change', refresh);
  byId('minutes').addEventListener('input', () => {
    byId('from').value = '';
    byId('to').value = '';
  });
  for (const id of ['from', 'to']) {
    byId(id).addEventListener('change', () => {
      byId('minutes').value = '';
      refresh();
    });
  }
  byId('filters').addEventListener('submit', (event) => event.preventDefault());
  byId('order').addEventListener('click', () => {
    setOrder(state.order === 'desc' ? 'asc' : 'desc');
    state.at = null;
    refresh();
  });
  byId('goto-button').addEventListener('click', () => {
    const id = Number(byId('goto').value);
    if (!Number.isInteger(id) || id < 1) return;
    state.at = id;
    byId('live').checked = false; // live tail follows the newest rows, not a place in the middle
    refresh();
  });
  byId('goto').addEventListener('keydown', (event) => {
    if (event.key === 'Enter') byId('goto-button').click();
  });
  byId('live').addEventListener('change', () => {
    if (byId('live').checked && state.at !== null) {
      state.at = null;
      refresh();
    }
    updateStatus();
  });
  byId('render-html').addEventListener('change', () => {
    for (const { row, element } of state.shown.values())
      setMessage(element.querySelector('td.message'), row.message, true);
    updateImagesNote();
  });
  byId('runs').addEventListener('focus', () => guarded(loadRuns));
  byId('runs').addEventListener('change', () => guarded(() => jumpToRun(byId('runs').value)));
  new IntersectionObserver(() => guarded(loadWhileVisible), { rootMargin: '200px' }).observe(byId('status'));
  setInterval(() => guarded(poll), POLL_INTERVAL_MS);
  setInterval(() => window.ViewerReading.refreshTimes(tbody()), RELATIVE_TIME_REFRESH_MS);
  document.addEventListener('keydown', onKey);
  window.addEventListener(
    'resize',
    debounce(() => guarded(refreshChart)),
  );
}

wire();
applyAddress();
window.addEventListener('popstate', () => {
  applyAddress();
  void guarded(() => reload('none'));
});
// The first page does not wait for the list of applications (all are shown until one is hidden).
void guarded(loadApplications);
void guarded(() => reload('replace'));
