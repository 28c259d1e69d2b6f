/**
 * The Content-Security-Policy and the other security headers every response of the app's protocol
 * carries. Everything is denied by default; each directive opens only what the renderer needs:
 * its own scripts and styles, the WASM codecs ('wasm-unsafe-eval' compiles WebAssembly and allows
 * no eval of JavaScript), images from itself and from in-memory data/blob URLs (rendered
 * heatmaps), and fetches of its own files. No inline script or style, no remote origin, no frames,
 * no plugins, no forms, no <base>.
 */

export const CSP_DIRECTIVES: ReadonlyArray<readonly [string, ...string[]]> = [
  ['default-src', "'none'"],
  ['script-src', "'self'", "'wasm-unsafe-eval'"],
  ['style-src', "'self'"],
  ['img-src', "'self'", 'data:', 'blob:'],
  ['font-src', "'self'"],
  ['connect-src', "'self'"],
  ['worker-src', "'self'"],
  ['media-src', "'none'"],
  ['object-src', "'none'"],
  ['frame-src', "'none'"],
  ['child-src', "'none'"],
  ['manifest-src', "'none'"],
  ['base-uri', "'none'"],
  ['form-action', "'none'"],
  ['frame-ancestors', "'none'"],
];

export const CONTENT_SECURITY_POLICY = CSP_DIRECTIVES.map((d) => d.join(' ')).join('; ');

/**
 * Features no part of the viewer uses; denied to the page even before the permission handler.
 * Only features Chromium's Permissions-Policy knows (it warns about others and ignores them: Web
 * Bluetooth, for one, is not a policy feature; the permission handler refuses it like all else).
 */
const PERMISSIONS_POLICY = [
  'camera',
  'microphone',
  'geolocation',
  'usb',
  'serial',
  'hid',
  'midi',
  'payment',
  'display-capture',
  'clipboard-read',
  'screen-wake-lock',
  'publickey-credentials-get',
]
  .map((feature) => `${feature}=()`)
  .join(', ');

/** Headers for every response of the app's protocol (the CSP for documents and workers alike). */
export function securityHeaders(): Record<string, string> {
  return {
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'X-Content-Type-Options': 'nosniff',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Referrer-Policy': 'no-referrer',
    'Permissions-Policy': PERMISSIONS_POLICY,
    'Cache-Control': 'no-store',
  };
}
