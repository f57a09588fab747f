'use strict';
// Stand-in for the Functions worker's `@azure/functions-core` module, for the dev host and tests only.
// `@azure/functions` calls setProgrammingModel once and registerFunction for every `app.*`
// registration; we record them so the dev host serves exactly what the Functions host would.
const STATE = Symbol.for('rtvoice.functions-core');
const state = (globalThis[STATE] ??= { programmingModel: undefined, functions: [], hooks: [] });

function disposable(list, item) {
  return {
    dispose() {
      const i = list.indexOf(item);
      if (i >= 0) list.splice(i, 1);
    },
  };
}

module.exports = {
  setProgrammingModel(model) {
    state.programmingModel = model;
  },
  getProgrammingModel() {
    return state.programmingModel;
  },
  registerFunction(metadata, handler) {
    const entry = { metadata, handler };
    state.functions.push(entry);
    return disposable(state.functions, entry);
  },
  registerHook(hookName, callback) {
    const entry = { hookName, callback };
    state.hooks.push(entry);
    return disposable(state.hooks, entry);
  },
  log(level, category, message) {
    if (level === 'error' || level === 'critical' || level === 'warning') process.stderr.write(`[${category}] ${message}\n`);
  },
};
