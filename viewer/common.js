// What the viewer's pages share: asking the JSON API, and showing a failure in the page's error line
// (an element with id "error") instead of losing it.
'use strict';

window.ViewerCommon = (() => {
  async function api(path) {
    const response = await fetch(path, { headers: { accept: 'application/json' } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
    return body;
  }

  /** Runs a step, showing its failure in the error line instead of losing it. */
  async function guarded(step) {
    const line = document.getElementById('error');
    try {
      await step();
      line.hidden = true;
    } catch (error) {
      line.textContent = error.message;
      line.hidden = false;
    }
  }

  return { api, guarded };
})();
