// The volume chart above the rows: rows per time bucket, stacked by level, drawn as SVG from
// /api/histogram. Dragging across it chooses a time range; a click on a bar jumps to its rows.
// ERROR and CRITICAL sit at the bottom of each bar, where the eye starts, and never shrink below
// two pixels: one failure among ten thousand INFO rows still shows.
'use strict';

window.VolumeChart = (() => {
  const SVG = 'http://www.w3.org/2000/svg';
  const HEIGHT = 96;
  const AXIS = 16;
  /** Bottom to top. Levels outside LogWeaver's five go on top, grey. */
  const STACK = ['CRITICAL', 'ERROR', 'WARNING', 'INFO', 'DEBUG'];
  const LOUD = new Set(['CRITICAL', 'ERROR']);
  const MIN_LOUD_PX = 2;
  /** A pointer that moved less than this between down and up clicked. */
  const DRAG_PX = 4;

  function svgElement(name, attributes) {
    const element = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
    return element;
  }

  /** `2026-11-28T09:05:00` (`.999` with milliseconds): the wall time in the viewer's zone, as the time inputs take it. */
  function wallTime(ms, zone, milliseconds = false) {
    const parts = new Intl.DateTimeFormat('en-CA', {
      timeZone: zone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    }).formatToParts(new Date(ms));
    const part = (type) => parts.find((found) => found.type === type)?.value ?? '00';
    const fraction = milliseconds ? `.${String(((ms % 1000) + 1000) % 1000).padStart(3, '0')}` : '';
    return `${part('year')}-${part('month')}-${part('day')}T${part('hour')}:${part('minute')}:${part('second')}${fraction}`;
  }

  function stackOrder(levels) {
    const others = Object.keys(levels)
      .filter((level) => !STACK.includes(level))
      .sort();
    return [...STACK.filter((level) => levels[level]), ...others];
  }

  const total = (levels) => Object.values(levels).reduce((sum, count) => sum + count, 0);

  function describeBucket(bucket, histogram) {
    const range = `${wallTime(bucket.start, histogram.zone)} – ${wallTime(bucket.start + histogram.bucketMs, histogram.zone)}`;
    const counts = stackOrder(bucket.levels)
      .reverse()
      .map((level) => `${level} ${bucket.levels[level]}`);
    return `${range.replaceAll('T', ' ')}\n${counts.join(', ')}\nclick: go to these rows · drag: choose a time range`;
  }

  /** One bar: its segments from the baseline up, loud levels at least MIN_LOUD_PX tall. */
  function drawBar(group, bucket, geometry) {
    const bar = svgElement('g', { class: 'bar', 'data-start': bucket.start });
    const title = svgElement('title', {});
    title.textContent = describeBucket(bucket, geometry.histogram);
    bar.append(title);
    let top = HEIGHT;
    for (const level of stackOrder(bucket.levels)) {
      const count = bucket.levels[level];
      const scaled = (count / geometry.max) * (HEIGHT - 4);
      const height = LOUD.has(level) ? Math.max(MIN_LOUD_PX, scaled) : scaled;
      top -= height;
      const known = STACK.includes(level) ? level : 'OTHER';
      bar.append(
        svgElement('rect', {
          class: `segment level-${known}`,
          'data-level': level,
          x: geometry.x(bucket.start) + 0.5,
          y: top,
          width: Math.max(1, geometry.barWidth - 1),
          height,
        }),
      );
    }
    group.append(bar);
  }

  /** A few labels along the time axis, at bucket edges. */
  function drawAxis(svg, geometry) {
    const { histogram, width } = geometry;
    const labels = Math.max(2, Math.floor(width / 160));
    const span = histogram.to - histogram.from;
    const sameDay =
      wallTime(histogram.from, histogram.zone).slice(0, 10) === wallTime(histogram.to, histogram.zone).slice(0, 10);
    for (let index = 0; index <= labels; index++) {
      const at = histogram.from + Math.round((span * index) / labels / histogram.bucketMs) * histogram.bucketMs;
      const text = svgElement('text', {
        class: 'tick',
        x: Math.min(width - 2, Math.max(2, geometry.x(at))),
        y: HEIGHT + AXIS - 3,
        'text-anchor': index === 0 ? 'start' : index === labels ? 'end' : 'middle',
      });
      const time = wallTime(at, histogram.zone).replace('T', ' ');
      text.textContent = sameDay ? time.slice(11) : time.slice(0, 16);
      svg.append(text);
    }
  }

  function geometryOf(histogram, width) {
    const span = Math.max(1, histogram.to - histogram.from);
    const max = Math.max(1, ...histogram.buckets.map((bucket) => total(bucket.levels)));
    return {
      histogram,
      width,
      max,
      barWidth: Math.max(1, (histogram.bucketMs / span) * width),
      x: (ms) => ((ms - histogram.from) / span) * width,
      time: (x) => histogram.from + (Math.min(Math.max(x, 0), width) / width) * span,
    };
  }

  /** Totals per level above the chart, the most severe first: how many errors, before any bar is read. */
  function legend(element, histogram) {
    const totals = {};
    for (const bucket of histogram.buckets) {
      for (const [level, count] of Object.entries(bucket.levels)) totals[level] = (totals[level] ?? 0) + count;
    }
    element.replaceChildren(
      ...stackOrder(totals).map((level) => {
        const item = document.createElement('span');
        item.className = `total level-${STACK.includes(level) ? level : 'OTHER'}`;
        item.dataset.level = level;
        item.textContent = `${level} ${totals[level].toLocaleString('en')}`;
        return item;
      }),
    );
  }

  /** Drag to choose a range (snapped to whole buckets), click to jump to a bucket. */
  function listen(svg, geometry, handlers) {
    const { histogram } = geometry;
    const snapDown = (ms) =>
      histogram.from + Math.floor((ms - histogram.from) / histogram.bucketMs) * histogram.bucketMs;
    const localX = (event) => event.clientX - svg.getBoundingClientRect().left;
    let startX = null;
    const selection = svgElement('rect', {
      class: 'selection',
      x: 0,
      y: 0,
      width: 0,
      height: HEIGHT,
      visibility: 'hidden',
    });
    svg.append(selection);
    svg.addEventListener('pointerdown', (event) => {
      startX = localX(event);
      svg.setPointerCapture(event.pointerId);
    });
    svg.addEventListener('pointermove', (event) => {
      if (startX === null) return;
      const [left, right] = [startX, localX(event)].sort((a, b) => a - b);
      selection.setAttribute('x', String(left));
      selection.setAttribute('width', String(right - left));
      selection.setAttribute('visibility', Math.abs(right - left) >= DRAG_PX ? 'visible' : 'hidden');
    });
    svg.addEventListener('pointerup', (event) => {
      if (startX === null) return;
      const [left, right] = [startX, localX(event)].sort((a, b) => a - b);
      startX = null;
      if (right - left >= DRAG_PX) {
        const from = snapDown(geometry.time(left));
        const to = Math.min(snapDown(geometry.time(right)) + histogram.bucketMs, histogram.to);
        handlers.onRange(from, to);
        return;
      }
      const start = snapDown(geometry.time(left));
      const bucket = histogram.buckets.find((found) => found.start === start);
      if (bucket) handlers.onJump(bucket);
    });
  }

  /** Draws the histogram into the section: legend, bars, axis; replaces what was there. */
  function render(section, histogram, handlers) {
    // A fresh element each time: the old one's drag listeners go with it.
    const old = section.querySelector('svg');
    const width = Math.max(100, old.clientWidth || section.clientWidth);
    const svg = svgElement('svg', { class: 'chart', role: 'img', 'aria-label': 'rows over time, by level' });
    old.replaceWith(svg);
    const geometry = geometryOf(histogram, width);
    svg.setAttribute('viewBox', `0 0 ${width} ${HEIGHT + AXIS}`);
    svg.replaceChildren(svgElement('line', { class: 'baseline', x1: 0, x2: width, y1: HEIGHT, y2: HEIGHT }));
    const bars = svgElement('g', { class: 'bars' });
    for (const bucket of histogram.buckets) drawBar(bars, bucket, geometry);
    svg.append(bars);
    if (histogram.buckets.length > 0) drawAxis(svg, geometry);
    listen(svg, geometry, handlers);
    legend(section.querySelector('.totals'), histogram);
    section.dataset.bucketMs = String(histogram.bucketMs);
  }

  return { render, wallTime };
})();
