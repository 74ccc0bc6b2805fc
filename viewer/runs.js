// The runs page: every run of every application on every machine (the last few of each), with its
// start, end, duration, rows per level and how it ended, from /api/runs/summary. Runs that did not end
// cleanly come first and are marked: on call, a crashed run is the first thing to find. Each run links
// to its rows in the viewer (and its errors, where it has any).
'use strict';

const LEVEL_COLUMNS = ['CRITICAL', 'ERROR', 'WARNING', 'INFO', 'DEBUG'];

/** How a run ended, most alarming first: the order of the list. */
const ENDINGS = {
  crashed: { rank: 0, text: 'crashed', title: 'the runs table recorded an unclean end' },
  unended: { rank: 1, text: 'no end', title: 'no end recorded: still running, or killed' },
  unknown: { rank: 2, text: 'unknown', title: 'no runs table: how it ended is not known' },
  clean: { rank: 3, text: 'clean', title: 'ended cleanly' },
};

const byId = (id) => document.getElementById(id);

const { api, guarded } = window.ViewerCommon;

function ending(run) {
  if (run.ended_cleanly === true) return 'clean';
  if (run.ended_cleanly === false) return 'crashed';
  return run.end_recorded === false ? 'unended' : 'unknown';
}

/** `1 h 02 min`, `3 min 05 s`, `12 s`. */
function duration(ms) {
  const seconds = Math.max(0, Math.round(ms / 1000));
  const [h, m, s] = [Math.floor(seconds / 3600), Math.floor((seconds % 3600) / 60), seconds % 60];
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`;
  if (m > 0) return `${m} min ${String(s).padStart(2, '0')} s`;
  return `${s} s`;
}

/** The viewer's address for a run's rows (viewer/address.js names the parameters). */
function rowsLink(run, level) {
  const params = new URLSearchParams({
    application: run.application_name,
    machine: run.machine_name,
    run: String(run.run_number),
  });
  if (level) params.set('level', level);
  return `./?${params}`;
}

function link(text, href) {
  const anchor = document.createElement('a');
  anchor.href = href;
  anchor.textContent = text;
  return anchor;
}

function cell(tr, className, content) {
  const td = tr.insertCell();
  td.className = className;
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  return td;
}

/** A time as printed by the API, shortened; the exact time on hover. */
function timeCell(tr, className, timestamp) {
  const td = cell(tr, className, timestamp ? timestamp.replace('T', ' ').slice(0, 19) : '—');
  if (timestamp) td.title = timestamp;
}

function runRow(run) {
  const tr = document.createElement('tr');
  const end = ending(run);
  tr.className = `run run-${end}`;
  tr.dataset.run = `${run.application_name} ${run.machine_name} ${run.run_number}`;
  cell(tr, 'ending', ENDINGS[end].text).title = ENDINGS[end].title;
  cell(tr, 'application', run.application_name);
  cell(tr, 'machine', run.machine_name);
  cell(tr, 'run', link(`run ${run.run_number}`, rowsLink(run)));
  timeCell(tr, 'time start', run.first_timestamp);
  timeCell(tr, 'time end', run.ended_at ?? run.last_timestamp);
  cell(tr, 'duration', duration(Date.parse(run.ended_at ?? run.last_timestamp) - Date.parse(run.first_timestamp)));
  cell(tr, 'count', run.rows.toLocaleString('en'));
  for (const level of LEVEL_COLUMNS) {
    const count = run.levels[level] ?? 0;
    const loud = count > 0 && ['CRITICAL', 'ERROR', 'WARNING'].includes(level);
    const content = loud
      ? link(count.toLocaleString('en'), rowsLink(run, level))
      : count
        ? count.toLocaleString('en')
        : '';
    cell(tr, `count level-count${loud ? ` has-${level}` : ''}`, content).dataset.level = level;
  }
  return tr;
}

/** Crashed first, then runs with no end, unknown, clean; the newest first within each. */
function ordered(runs) {
  return [...runs].sort(
    (a, b) => ENDINGS[ending(a)].rank - ENDINGS[ending(b)].rank || b.first_timestamp.localeCompare(a.first_timestamp),
  );
}

function summarize(runs) {
  const crashed = runs.filter((run) => ending(run) === 'crashed').length;
  const unended = runs.filter((run) => ending(run) === 'unended').length;
  const parts = [];
  if (crashed) parts.push(`${crashed} crashed run${crashed === 1 ? '' : 's'}`);
  if (unended) parts.push(`${unended} run${unended === 1 ? '' : 's'} with no end recorded (running, or killed)`);
  const summary = byId('problem-summary');
  summary.textContent = parts.length > 0 ? `${parts.join(' · ')}: listed first.` : 'Every run listed ended cleanly.';
  summary.classList.toggle('problems', crashed > 0);
}

async function load() {
  const params = new URLSearchParams({ limit: byId('limit').value || '20' });
  if (byId('application').value) params.set('application', byId('application').value);
  const { runs } = await api(`/api/runs/summary?${params}`);
  const shown = byId('problems').checked ? runs.filter((run) => ending(run) !== 'clean') : runs;
  byId('runs-table').tBodies[0].replaceChildren(...ordered(shown).map(runRow));
  summarize(runs);
  byId('status').textContent = `${shown.length} run${shown.length === 1 ? '' : 's'}`;
}

async function loadApplications() {
  const meta = await api('/api/meta');
  document.title = `Runs · ${meta.table}`;
  const names = [...new Set(meta.machines.map((pair) => pair.application))];
  byId('application').append(...names.map((name) => new Option(name, name)));
}

for (const id of ['application', 'limit', 'problems']) byId(id).addEventListener('change', () => guarded(load));
byId('run-filters').addEventListener('submit', (event) => event.preventDefault());
void guarded(loadApplications);
void guarded(load);
