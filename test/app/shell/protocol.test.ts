/**
 * The app:// protocol on real files: the renderer's files come back with their MIME types and the
 * CSP; every way out of the app folder is refused (dot segments and their percent-encodings,
 * encoded slashes and backslashes, NUL and control characters, absolute and drive paths, other
 * hosts and schemes, a symbolic link pointing outside, hidden files, directories, unknown types,
 * methods other than GET and HEAD).
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { CONTENT_SECURITY_POLICY } from '../../../main/app/shell/csp.js';
import {
  isInside,
  MIME_TYPES,
  resolveAssetPath,
  SCHEME_PRIVILEGES,
  serveAsset,
} from '../../../main/app/shell/protocol.js';
import { scratchDir } from '../../support/tools.js';

const scratch = scratchDir('app-protocol');
after(() => scratch.remove());

// A renderer build next to a secret it must never serve: <scratch>/renderer and <scratch>/secret.txt.
const root = path.join(scratch.path, 'renderer');
mkdirSync(path.join(root, 'assets'), { recursive: true });
writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>triage</title>');
writeFileSync(path.join(root, 'assets', 'app.js'), 'console.log(1)');
writeFileSync(path.join(root, 'assets', 'style.css'), 'body{}');
writeFileSync(path.join(root, 'assets', 'codec.wasm'), Buffer.from([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
writeFileSync(path.join(root, 'assets', 'data.bin'), 'binary');
writeFileSync(path.join(root, '.env'), 'hidden');
writeFileSync(path.join(scratch.path, 'secret.txt'), 'SECRET');
mkdirSync(path.join(scratch.path, 'renderer-evil'));
writeFileSync(path.join(scratch.path, 'renderer-evil', 'x.js'), 'SECRET');
symlinkSync(path.join(scratch.path, 'secret.txt'), path.join(root, 'assets', 'leak.txt'));
symlinkSync(scratch.path, path.join(root, 'assets', 'up'));
symlinkSync(path.join(root, 'assets', 'app.js'), path.join(root, 'alias.js'));

const get = (url: string, method = 'GET') => serveAsset({ url, method }, root);

describe('resolving app:// URLs', () => {
  test('the root and plain paths map into the folder', () => {
    assert.deepEqual(resolveAssetPath('app://triage/', root), {
      ok: true,
      path: path.join(root, 'index.html'),
      mime: 'text/html; charset=utf-8',
    });
    assert.deepEqual(resolveAssetPath('app://triage', root), {
      ok: true,
      path: path.join(root, 'index.html'),
      mime: 'text/html; charset=utf-8',
    });
    const js = resolveAssetPath('app://triage/assets/app.js?v=1#x', root);
    assert.deepEqual(js, {
      ok: true,
      path: path.join(root, 'assets', 'app.js'),
      mime: 'text/javascript; charset=utf-8',
    });
    assert.equal(MIME_TYPES['.wasm'], 'application/wasm');
    const spaced = resolveAssetPath('app://triage/assets/a%20b.css', root);
    assert.ok(spaced.ok && spaced.path === path.join(root, 'assets', 'a b.css'));
  });

  const refusals: Array<[string, number]> = [
    ['app://triage/..%2fsecret.txt', 400],
    ['app://triage/..%2Fsecret.txt', 400],
    ['app://triage/%2e%2e%2f%2e%2e%2fetc%2fpasswd', 400],
    ['app://triage/..%5csecret.txt', 400],
    ['app://triage/..\\secret.txt', 400],
    ['app://triage/assets\\..\\..\\secret.txt', 400],
    ['app://triage/index.html%00.js', 400],
    ['app://triage/index.html\u0000.js', 400],
    ['app://triage/a%0a.js', 400],
    ['app://triage//etc/passwd', 400],
    ['app://triage/%2fetc%2fpasswd', 400],
    ['app://triage/C:/Windows/win.ini', 400],
    ['app://triage/C%3a%5cWindows%5cwin.ini', 400],
    ['app://triage/%e0%a4%a', 400],
    ['app://triage/./index.html%2f', 400],
    ['app://triage/.env', 404],
    ['app://triage/assets/%2eenv', 404],
    ['app://evil/index.html', 404],
    ['app://triage.evil/index.html', 404],
    ['app://user:pass@triage/index.html', 404],
    ['file:///etc/passwd', 404],
    ['https://triage/index.html', 404],
    ['app://triage/assets/data.bin', 404],
    ['not a url', 400],
  ];
  for (const [url, status] of refusals) {
    test(`refuses ${JSON.stringify(url)} (${status})`, () => {
      const resolved = resolveAssetPath(url, root);
      assert.equal(resolved.ok, false, `${url} resolved to ${resolved.ok ? resolved.path : ''}`);
      assert.equal(resolved.ok ? 0 : resolved.status, status);
    });
  }

  test('dot segments the URL parser already removed cannot leave the folder either', () => {
    // WHATWG parsing resolves ../ and %2e%2e/ before we see the path: /secret.txt, inside the folder.
    for (const url of [
      'app://triage/../../secret.txt',
      'app://triage/%2e%2e/secret.txt',
      'app://triage/%2E%2E/secret.txt',
      'app://triage/assets/%2e%2e/%2e%2e/secret.txt',
      'app://triage/.%2e/secret.txt',
    ]) {
      const resolved = resolveAssetPath(url, root);
      assert.ok(resolved.ok, url);
      assert.equal(resolved.path, path.join(root, 'secret.txt'), url);
    }
  });

  test('Windows paths: backslashes, drive letters and UNC names stay refused', () => {
    const winRoot = 'C:\\Program Files\\CXR Triage\\resources\\app.asar\\dist\\renderer';
    const ok = resolveAssetPath('app://triage/assets/app.js', winRoot, path.win32);
    assert.ok(ok.ok && ok.path === `${winRoot}\\assets\\app.js`);
    for (const url of [
      'app://triage/..%5c..%5cwin.ini',
      'app://triage/C%3a%5cwin.ini',
      'app://triage/%5c%5cserver%5cshare%5cx.js',
      'app://triage/index.html%3a%3a%24DATA',
    ]) {
      assert.equal(resolveAssetPath(url, winRoot, path.win32).ok, false, url);
    }
  });

  test('isInside compares whole path components', () => {
    assert.ok(isInside('/a/renderer', '/a/renderer/x.js'));
    assert.ok(isInside('/a/renderer', '/a/renderer'));
    assert.ok(!isInside('/a/renderer', '/a/renderer-evil/x.js'));
    assert.ok(!isInside('/a/renderer', '/a/secret.txt'));
    assert.ok(!isInside('C:\\app', 'D:\\app\\x.js', path.win32));
  });

  test('the scheme is standard and secure, and bypasses nothing', () => {
    assert.deepEqual(SCHEME_PRIVILEGES, {
      scheme: 'app',
      privileges: { standard: true, secure: true, supportFetchAPI: true },
    });
  });
});

describe('serving files', () => {
  test('files come back with their type, the CSP and nosniff', async () => {
    const cases: Array<[string, string, string]> = [
      ['app://triage/', 'text/html; charset=utf-8', '<!doctype html><title>triage</title>'],
      ['app://triage/assets/app.js', 'text/javascript; charset=utf-8', 'console.log(1)'],
      ['app://triage/assets/style.css', 'text/css; charset=utf-8', 'body{}'],
    ];
    for (const [url, type, body] of cases) {
      const response = await get(url);
      assert.equal(response.status, 200, url);
      assert.equal(response.headers.get('content-type'), type);
      assert.equal(response.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(await response.text(), body);
    }
    const wasm = await get('app://triage/assets/codec.wasm');
    assert.equal(wasm.headers.get('content-type'), 'application/wasm');
    assert.deepEqual(new Uint8Array(await wasm.arrayBuffer()), new Uint8Array([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
    // WebAssembly.compileStreaming accepts exactly this response.
    const wasmApi = (
      globalThis as unknown as { WebAssembly: { compileStreaming(source: Promise<Response>): Promise<unknown> } }
    ).WebAssembly;
    await wasmApi.compileStreaming(get('app://triage/assets/codec.wasm'));
  });

  test('a symbolic link inside the folder that stays inside is served', async () => {
    const response = await get('app://triage/alias.js');
    assert.equal(response.status, 200);
    assert.equal(await response.text(), 'console.log(1)');
  });

  test('symbolic links pointing outside the folder are refused', async () => {
    for (const url of [
      'app://triage/assets/leak.txt',
      'app://triage/assets/up/secret.txt',
      'app://triage/assets/up/renderer-evil/x.js',
    ]) {
      const response = await get(url);
      assert.equal(response.status, 403, url);
      assert.ok(!(await response.text()).includes('SECRET'));
    }
  });

  test('traversal attempts never return the secret', async () => {
    for (const url of [
      'app://triage/%2e%2e/secret.txt',
      'app://triage/..%2fsecret.txt',
      'app://triage/..%5csecret.txt',
      'app://triage/../secret.txt',
      'app://triage/..%2frenderer-evil/x.js',
    ]) {
      const response = await get(url);
      assert.notEqual(response.status, 200, url);
      assert.ok(!(await response.text()).includes('SECRET'), url);
      // Refusals carry the CSP too (an error page is a document as well).
      assert.equal(response.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY);
    }
  });

  test('missing files, directories and other methods', async () => {
    assert.equal((await get('app://triage/missing.js')).status, 404);
    assert.equal((await get('app://triage/assets')).status, 404);
    assert.equal((await get('app://triage/assets/app.js', 'POST')).status, 405);
    const head = await get('app://triage/assets/app.js', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '14');
    assert.equal(await head.text(), '');
  });
});
