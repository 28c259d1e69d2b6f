/**
 * The window's security settings, the CSP, and the navigation, window, permission and network
 * decisions, as Electron will receive them (Electron's binary cannot run here; install.test.ts
 * checks that these decisions are the ones wired to Electron's events).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CONTENT_SECURITY_POLICY, CSP_DIRECTIVES, securityHeaders } from '../../../main/app/shell/csp.js';
import {
  allowNavigation,
  allowRequest,
  permissionCheckDecision,
  permissionRequestDecision,
  windowOpenDecision,
} from '../../../main/app/shell/guards.js';
import { parseShellArgs } from '../../../main/app/shell/args.js';
import { menuTemplate } from '../../../main/app/shell/menu.js';
import { APP_ORIGIN, ENTRY_URL, isAppUrl } from '../../../main/app/shell/origin.js';
import { windowOptions } from '../../../main/app/shell/window.js';

describe('window', () => {
  test('isolated, sandboxed, no Node, web security on, no webview', () => {
    const options = windowOptions({ preload: '/app/preload.cjs', devTools: false });
    const web = options.webPreferences!;
    assert.equal(web.contextIsolation, true);
    assert.equal(web.sandbox, true);
    assert.equal(web.nodeIntegration, false);
    assert.equal(web.nodeIntegrationInWorker, false);
    assert.equal(web.nodeIntegrationInSubFrames, false);
    assert.equal(web.webSecurity, true);
    assert.equal(web.allowRunningInsecureContent, false);
    assert.equal(web.webviewTag, false);
    assert.equal(web.experimentalFeatures, false);
    assert.equal(web.navigateOnDragDrop, false);
    assert.equal(web.devTools, false);
    assert.equal(web.preload, '/app/preload.cjs');
    assert.equal(options.show, false);
    // Nothing that loosens the page: no extra Blink features, no partition of its own, no zoom hacks.
    for (const key of [
      'enableBlinkFeatures',
      'additionalArguments',
      'partition',
      'session',
      'disableBlinkFeatures',
      'enableRemoteModule',
    ] as const) {
      assert.equal((web as Record<string, unknown>)[key], undefined, key);
    }
    assert.equal(windowOptions({ preload: '/p.cjs', devTools: true }).webPreferences!.devTools, true);
  });
});

describe('Content-Security-Policy', () => {
  const directives = new Map(
    CONTENT_SECURITY_POLICY.split('; ').map((d) => {
      const [name, ...values] = d.split(' ');
      return [name, values] as const;
    }),
  );

  test('denies by default and opens only what the renderer needs', () => {
    assert.deepEqual(directives.get('default-src'), ["'none'"]);
    assert.deepEqual(directives.get('script-src'), ["'self'", "'wasm-unsafe-eval'"]);
    assert.deepEqual(directives.get('style-src'), ["'self'"]);
    assert.deepEqual(directives.get('img-src'), ["'self'", 'data:', 'blob:']);
    assert.deepEqual(directives.get('connect-src'), ["'self'"]);
    for (const none of [
      'object-src',
      'frame-src',
      'child-src',
      'base-uri',
      'form-action',
      'frame-ancestors',
      'media-src',
    ]) {
      assert.deepEqual(directives.get(none), ["'none'"], none);
    }
    assert.equal(directives.size, CSP_DIRECTIVES.length);
  });

  test('nothing looser anywhere: no unsafe-eval, unsafe-inline, wildcards, remote schemes', () => {
    for (const [name, values] of directives) {
      for (const value of values) {
        assert.ok(
          ![
            "'unsafe-eval'",
            "'unsafe-inline'",
            "'unsafe-hashes'",
            "'strict-dynamic'",
            '*',
            'http:',
            'https:',
            'ws:',
            'wss:',
            'file:',
            'filesystem:',
          ].includes(value),
          `${name} ${value}`,
        );
        assert.ok(!value.includes('*'), `${name} ${value}`);
      }
    }
    // data: and blob: only as image sources (heatmaps rendered in memory), never for scripts.
    for (const [name, values] of directives) {
      if (name !== 'img-src') assert.ok(!values.includes('data:') && !values.includes('blob:'), name);
    }
  });

  test('every protocol response carries it with the other headers', () => {
    const headers = securityHeaders();
    assert.equal(headers['Content-Security-Policy'], CONTENT_SECURITY_POLICY);
    assert.equal(headers['X-Content-Type-Options'], 'nosniff');
    assert.equal(headers['Cross-Origin-Opener-Policy'], 'same-origin');
    assert.match(headers['Permissions-Policy'], /camera=\(\)/);
  });
});

describe('navigation, windows, permissions, network', () => {
  test('the origin', () => {
    assert.equal(APP_ORIGIN, 'app://triage');
    assert.equal(ENTRY_URL, 'app://triage/index.html');
    assert.ok(isAppUrl('app://triage/index.html#/study/1'));
    for (const url of [
      'app://triage.evil/',
      'app://evil/',
      'app://x@triage/',
      'app://triage:8080/',
      'https://triage/',
      'file:///index.html',
      'javascript:alert(1)',
      '',
      'app:triage',
    ]) {
      assert.equal(isAppUrl(url), false, url);
    }
  });

  test('navigation stays on the app origin', () => {
    assert.ok(allowNavigation('app://triage/index.html'));
    for (const url of [
      'https://example.org/',
      'http://localhost:3000/',
      'file:///etc/passwd',
      'app://other/index.html',
      'data:text/html,<script>',
      'javascript:void(0)',
      'about:blank',
      'chrome://settings',
      'devtools://devtools/bundled/inspector.html',
    ]) {
      assert.equal(allowNavigation(url), false, url);
    }
  });

  test('new windows are denied, external browser included', () => {
    assert.deepEqual(windowOpenDecision(), { action: 'deny' });
  });

  test('every permission request and check is refused', () => {
    for (const permission of [
      'media',
      'geolocation',
      'notifications',
      'clipboard-read',
      'clipboard-sanitized-write',
      'fullscreen',
      'openExternal',
      'hid',
      'serial',
      'usb',
      'fileSystem',
      'display-capture',
      'unknown',
    ]) {
      assert.equal(permissionRequestDecision(permission), false, permission);
      assert.equal(permissionCheckDecision(permission), false, permission);
    }
  });

  test('only the app protocol and in-memory URLs may be requested', () => {
    for (const url of [
      'app://triage/index.html',
      'app://triage/assets/codec.wasm',
      'data:image/png;base64,AAAA',
      'blob:app://triage/5e0b0a7c-1d2c-4c8e-9d0a-000000000000',
    ]) {
      assert.ok(allowRequest(url), url);
    }
    for (const url of [
      'https://example.org/model.onnx',
      'http://127.0.0.1:8080/',
      'ws://localhost/',
      'wss://x/',
      'file:///etc/passwd',
      'ftp://x/',
      'app://other/x.js',
      'chrome-extension://abc/x.js',
    ]) {
      assert.equal(allowRequest(url), false, url);
    }
  });
});

describe('menu and command line', () => {
  test('no web links in the menu; developer tools only where enabled', () => {
    const flat = (items: unknown): string => JSON.stringify(items);
    assert.ok(!flat(menuTemplate('linux', false)).includes('toggleDevTools'));
    assert.ok(flat(menuTemplate('linux', true)).includes('toggleDevTools'));
    assert.ok(!/help|http|click/i.test(flat(menuTemplate('darwin', true))));
    assert.ok(flat(menuTemplate('darwin', false)).includes('appMenu'));
  });

  test('--models, --db and --ep are read; Chromium switches are left alone', () => {
    assert.deepEqual(
      parseShellArgs(['.', '--no-sandbox', '--models', 'packs/demo', '--db=/data/r.sqlite', '--ep', 'cpu'], '/work'),
      {
        packDir: '/work/packs/demo',
        database: '/data/r.sqlite',
        provider: 'cpu',
      },
    );
    // A database server's URL is passed on as it is, never made a path under the working folder.
    assert.equal(
      parseShellArgs(['--db', 'postgresql://triage@db.example:5432/archive'], '/work').database,
      'postgresql://triage@db.example:5432/archive',
    );
    assert.deepEqual(parseShellArgs(['--inspect=0', '--models'], '/work'), {
      packDir: null,
      database: null,
      provider: null,
    });
  });
});
