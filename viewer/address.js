// The view in the address bar: filters, time range, order, the row gone to and the selected row. A
// link pasted into a chat opens the same view, and back and forward step through the views shown.
// Parameter names are the API's where there is one (since, until, level, run, machine, tag, grep,
// thirdParty, application, order, at), so a link reads like the query it makes.
'use strict';

window.ViewerAddress = (() => {
  /** Input id → parameter. */
  const INPUTS = [
    ['minutes', 'last'],
    ['from', 'since'],
    ['to', 'until'],
    ['level', 'level'],
    ['run', 'run'],
    ['machine', 'machine'],
    ['tag', 'tag'],
    ['text', 'grep'],
  ];

  /**
   * The address of a view: `view` is { inputs: {id: value}, thirdParty, applications (null: all),
   * order, at, row }. Defaults are left out, so the plain page is a plain address.
   */
  function encode(view) {
    const params = new URLSearchParams();
    for (const [id, name] of INPUTS) if (view.inputs[id]) params.set(name, view.inputs[id]);
    if (!view.thirdParty) params.set('thirdParty', 'false');
    for (const name of view.applications ?? []) params.append('application', name);
    if (view.order === 'asc') params.set('order', 'asc');
    if (view.at !== null) params.set('at', String(view.at));
    if (view.row !== null) params.set('row', String(view.row));
    return params.toString();
  }

  const idOf = (value) => (value && /^\d{1,15}$/.test(value) ? Number(value) : null);

  /** The view an address describes; what it does not say is the default. */
  function decode(search) {
    const params = new URLSearchParams(search);
    const applications = params.getAll('application');
    return {
      inputs: Object.fromEntries(INPUTS.map(([id, name]) => [id, params.get(name) ?? ''])),
      thirdParty: params.get('thirdParty') !== 'false',
      applications: applications.length > 0 ? applications : null,
      order: params.get('order') === 'asc' ? 'asc' : 'desc',
      at: idOf(params.get('at')),
      row: idOf(params.get('row')),
    };
  }

  return { encode, decode, INPUTS };
})();
