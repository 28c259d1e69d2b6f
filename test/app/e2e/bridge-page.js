// window.triage in the test page: what Electron's preload exposes, over Playwright's binding
// `__triageInvoke` (JSON only: ArrayBuffers arrive as {__bytes: base64} and are rebuilt here).
// Plain JavaScript on purpose: Playwright injects this text as it is, with nothing compiled in.
// `__TRIAGE_DROP_FOLDER__` is replaced by the folder dropped files "come from"; pathForFile
// grants each dropped path to the window over `__triageGrant`, as the preload does.
(() => {
  const dropFolder = __TRIAGE_DROP_FOLDER__;
  const listeners = new Map();
  function decode(value) {
    if (Array.isArray(value)) return value.map(decode);
    if (value && typeof value === 'object') {
      if (typeof value.__bytes === 'string') {
        const text = atob(value.__bytes);
        const bytes = new Uint8Array(text.length);
        for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
        return bytes.buffer;
      }
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v)]));
    }
    return value;
  }
  // What the page records about itself for the test: CSP violations.
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (event) => {
    window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
  });
  window.__triageEmit = (event, payload) => {
    for (const listener of listeners.get(event) ?? []) listener(decode(payload));
  };
  const invoke = window.__triageInvoke;
  const grant = window.__triageGrant;
  // The preload grants a dropped path synchronously (sendSync) before pathForFile returns; here
  // the grant is a binding call, so every invoke waits for the grants made before it.
  let granting = Promise.resolve();
  window.triage = Object.freeze({
    async invoke(channel, request) {
      await granting;
      const envelope = decode(await invoke(channel, request));
      if (envelope.ok) return envelope.value;
      const error = new Error(`${envelope.error.code}: ${envelope.error.message}`);
      error.name = 'ApiCallError';
      throw error;
    },
    on(event, listener) {
      const set = listeners.get(event) ?? new Set();
      set.add(listener);
      listeners.set(event, set);
      return () => set.delete(listener);
    },
    pathForFile(file) {
      const path = file && file.name ? `${dropFolder}/${file.name}` : '';
      if (path !== '') granting = Promise.all([granting, grant(path)]);
      return path;
    },
  });
})();
