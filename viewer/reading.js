// Reading comfort for the viewer's rows: relative times with the exact time on hover, multi-line
// messages (stack traces) folded to their first line with a toggle, and a record's fields as a
// key/value table in the details.
'use strict';

window.ViewerReading = (() => {
  const DAY_MS = 86_400_000;
  const UNITS = [
    [60, 's', 1],
    [3600, 'min', 60],
    [86_400, 'h', 3600],
    [86_400 * 60, 'd', 86_400],
    [Infinity, 'mo', 86_400 * 30],
  ];

  /** `just now`, `12 s ago`, `3 min ago`, `5 h ago`, `4 d ago`, `3 mo ago`; `in 2 min` for a clock ahead. */
  function ago(timestamp, now = Date.now()) {
    const seconds = Math.round((now - Date.parse(timestamp)) / 1000);
    const size = Math.abs(seconds);
    if (size < 5) return 'just now';
    const [, unit, divisor] = UNITS.find(([limit]) => size < limit);
    const amount = `${Math.floor(size / divisor)} ${unit}`;
    return seconds >= 0 ? `${amount} ago` : `in ${amount}`;
  }

  /**
   * A row's time: how long ago, then the clock time (as stored, in the viewer's zone),
   * the whole timestamp with its offset on hover. Refreshed by refreshTimes.
   */
  function timeCell(td, timestamp) {
    const relative = document.createElement('span');
    relative.className = 'ago';
    relative.textContent = ago(timestamp);
    const clock = document.createElement('span');
    clock.className = 'clock';
    // Older than a day: the date too (month and day), since "4 d ago" alone does not say which day.
    const old = Date.now() - Date.parse(timestamp) > DAY_MS;
    clock.textContent = `${old ? `${timestamp.slice(5, 10)} ` : ''}${timestamp.slice(11, 23)}`;
    td.replaceChildren(relative, clock);
    td.title = timestamp;
    td.dataset.timestamp = timestamp;
  }

  function refreshTimes(root) {
    const now = Date.now();
    for (const td of root.querySelectorAll('td.time[data-timestamp]')) {
      td.querySelector('.ago').textContent = ago(td.dataset.timestamp, now);
    }
  }

  /**
   * A message of several lines shows its first line and a toggle with how many more; the toggle
   * unfolds it in place (and does not open the details, as a click on the row does).
   */
  function foldedMessage(element, message) {
    const lines = message.split('\n');
    if (lines.length < 2) {
      element.textContent = message;
      return;
    }
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = lines[0];
    const toggle = document.createElement('button');
    toggle.type = 'button';
    toggle.className = 'fold';
    const more = `${lines.length - 1} more line${lines.length === 2 ? '' : 's'}`;
    toggle.textContent = `▸ ${more}`;
    toggle.setAttribute('aria-expanded', 'false');
    toggle.addEventListener('click', (event) => {
      event.stopPropagation();
      const open = toggle.getAttribute('aria-expanded') !== 'true';
      toggle.setAttribute('aria-expanded', String(open));
      toggle.textContent = open ? '▾ fold' : `▸ ${more}`;
      text.textContent = open ? message : lines[0];
    });
    element.replaceChildren(text, ' ', toggle);
  }

  /** A record's top-level fields, one row each; nested values as compact JSON. */
  function recordTable(table, record) {
    const fields = record && typeof record === 'object' && !Array.isArray(record) ? Object.entries(record) : [];
    table.tBodies[0].replaceChildren(
      ...fields.map(([key, value]) => {
        const tr = document.createElement('tr');
        const name = tr.insertCell();
        name.className = 'key';
        name.textContent = key;
        const cell = tr.insertCell();
        cell.className = 'value';
        cell.textContent = typeof value === 'string' ? value : JSON.stringify(value);
        tr.dataset.key = key;
        return tr;
      }),
    );
    return fields.length;
  }

  return { ago, timeCell, refreshTimes, foldedMessage, recordTable };
})();
