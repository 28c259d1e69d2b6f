/**
 * What the window may scan (reach.ts, window-policy.ts), on Windows and POSIX path semantics:
 * network (UNC), device and automount paths are refused outright, granted or not; paths not in
 * normal form are refused; a granted file covers itself and a granted folder what is inside it,
 * nothing beside it; grants are per window and bounded; a path neither granted nor in the results
 * store is refused, and the store is asked only about paths no grant covers.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Envelope } from '../../../main/app/api/contract.js';
import {
  isValidationReport,
  comparablePath,
  covers,
  decideScanPaths,
  MAX_GRANTS,
  notGrantedRefusal,
  PathGrants,
  pathSemantics,
  remotePathReason,
} from '../../../main/app/shell/reach.js';
import { WindowPolicy } from '../../../main/app/shell/window-policy.js';

describe('paths refused outright', () => {
  const everywhere = [
    '\\\\fileserver\\radiology\\chest.dcm',
    '\\\\fileserver@SSL\\DavWWWRoot\\a.dcm',
    '//fileserver/radiology/chest.dcm',
    '\\/fileserver/share',
    '/\\fileserver\\share',
    '\\\\?\\C:\\data\\a.dcm',
    '\\\\?\\UNC\\fileserver\\share\\a.dcm',
    '\\\\.\\PhysicalDrive0',
    '//?/C:/data/a.dcm',
    '//./pipe/engine',
    '\\??\\C:\\data\\a.dcm',
  ];
  for (const path of everywhere) {
    test(`${JSON.stringify(path)} on Windows and POSIX`, () => {
      assert.notEqual(remotePathReason(path, 'win32'), null);
      assert.notEqual(remotePathReason(path, 'posix'), null);
    });
  }

  test('UNC and device paths are told apart in the reason', () => {
    assert.match(remotePathReason('\\\\host\\share\\a.dcm', 'win32')!, /network path \(UNC/);
    assert.match(remotePathReason('\\\\?\\C:\\a.dcm', 'win32')!, /device path/);
  });

  test('Windows device names, in any folder, with an extension or trailing dots', () => {
    for (const path of [
      'C:\\data\\CON',
      'C:\\data\\nul.dcm',
      'C:\\data\\com1.txt',
      'D:\\LPT3',
      'C:\\data\\aux.',
      'C:\\data\\COM¹',
      'C:\\data\\conout$',
      'C:\\prn\\chest.dcm',
    ]) {
      assert.match(remotePathReason(path, 'win32') ?? '', /Windows device/, path);
    }
    for (const path of ['C:\\data\\console.dcm', 'C:\\data\\nullify.dcm', 'C:\\com10\\a.dcm', 'C:\\data\\lpt.dcm']) {
      assert.equal(remotePathReason(path, 'win32'), null, path);
    }
    // A POSIX file may be called con.dcm.
    assert.equal(remotePathReason('/data/con.dcm', 'posix'), null);
  });

  test('the automounter: /net (Linux autofs, macOS) and /Network (macOS), in any case', () => {
    for (const path of [
      '/net/fileserver/export/a.dcm',
      '/net',
      '/NET/host/x',
      '/Network/Servers/x.dcm',
      '/network/x',
    ]) {
      assert.match(remotePathReason(path, 'posix') ?? '', /automounter/, path);
    }
    for (const path of ['/netflix/a.dcm', '/home/u/net/a.dcm', '/Volumes/share/a.dcm', '/data/Network/a.dcm']) {
      assert.equal(remotePathReason(path, 'posix'), null, path);
    }
  });

  test('the platform decides the semantics', () => {
    assert.equal(pathSemantics('win32'), 'win32');
    assert.equal(pathSemantics('darwin'), 'posix');
    assert.equal(pathSemantics('linux'), 'posix');
  });
});

describe('comparable paths', () => {
  test('POSIX: normal form only, a trailing slash dropped', () => {
    assert.equal(comparablePath('/data/cxr/', 'posix'), '/data/cxr');
    assert.equal(comparablePath('/', 'posix'), '/');
    assert.equal(comparablePath('/Data/CXR', 'posix'), '/Data/CXR', 'case kept');
    for (const path of ['/data/../etc', '/data/./a', '/data//a', 'data/a', 'C:\\data', '/a\0b'])
      assert.equal(comparablePath(path, 'posix'), null, path);
  });

  test('Windows: backslashes, case folded, normal form only', () => {
    assert.equal(comparablePath('C:\\Data\\CXR\\', 'win32'), 'c:\\data\\cxr');
    assert.equal(comparablePath('C:/Data/cxr', 'win32'), 'c:\\data\\cxr');
    assert.equal(comparablePath('D:\\', 'win32'), 'd:\\');
    for (const path of ['C:\\data\\..\\Windows', 'C:\\data\\.\\a', 'C:\\data\\\\a', 'C:data', '/data/a', 'C:'])
      assert.equal(comparablePath(path, 'win32'), null, path);
  });

  test('a folder covers what is inside it, not a sibling that shares its prefix', () => {
    assert.ok(covers('/data/cxr', '/data/cxr'));
    assert.ok(covers('/data/cxr', '/data/cxr/2024/a.dcm'));
    assert.ok(!covers('/data/cxr', '/data/cxr2/a.dcm'));
    assert.ok(!covers('/data/cxr', '/data'));
    assert.ok(covers('/', '/anything'));
    assert.ok(covers('c:\\data', 'c:\\data\\a.dcm'));
    assert.ok(!covers('c:\\data', 'c:\\database\\a.dcm'));
    assert.ok(covers('c:\\', 'c:\\a.dcm'));
  });
});

describe('grants', () => {
  test('a granted file, a granted folder; Windows compares without case', () => {
    const posix = new PathGrants('posix');
    posix.grant(['/data/reading', '/tmp/one.dcm']);
    assert.ok(posix.covers('/data/reading/a.dcm'));
    assert.ok(posix.covers('/tmp/one.dcm'));
    assert.ok(!posix.covers('/tmp/two.dcm'));
    assert.ok(!posix.covers('/data/reading/../../etc/passwd'), 'not in normal form: never covered');
    assert.ok(!posix.covers('/DATA/reading/a.dcm'), 'POSIX is case-sensitive');
    const windows = new PathGrants('win32');
    windows.grant(['C:\\Users\\reader\\Reading']);
    assert.ok(windows.covers('c:\\users\\READER\\reading\\a.dcm'));
    assert.ok(!windows.covers('C:\\Users\\reader\\Other\\a.dcm'));
  });

  test('bounded: the oldest grants go first', () => {
    const grants = new PathGrants('posix');
    grants.grant(Array.from({ length: MAX_GRANTS + 10 }, (_, i) => `/drops/${i}.dcm`));
    assert.equal(grants.size, MAX_GRANTS);
    assert.ok(!grants.covers('/drops/0.dcm'));
    assert.ok(grants.covers(`/drops/${MAX_GRANTS + 9}.dcm`));
  });

  test('a granted UNC path is still refused; an ungranted local one is left to the store', () => {
    const grants = new PathGrants('win32');
    grants.grant(['\\\\fileserver\\share', 'C:\\reading']);
    const remote = decideScanPaths(['\\\\fileserver\\share\\a.dcm'], grants, 'win32');
    assert.ok('refused' in remote && remote.refused.code === 'PATH_NOT_LOCAL');
    assert.match('refused' in remote ? remote.refused.message : '', /Open files… or Open folder…/);
    assert.deepEqual(decideScanPaths(['C:\\reading\\a.dcm', 'C:\\other\\b.dcm'], grants, 'win32'), {
      unresolved: ['C:\\other\\b.dcm'],
    });
    const traversal = decideScanPaths(['C:\\reading\\..\\Windows'], grants, 'win32');
    assert.ok('refused' in traversal && traversal.refused.code === 'PATH_NOT_GRANTED');
  });

  test('paths neither granted nor stored are refused with PATH_NOT_GRANTED', () => {
    assert.equal(notGrantedRefusal(['/a.dcm'], new Set(['/a.dcm'])), null);
    const refused = notGrantedRefusal(['/a.dcm', '/b.dcm'], new Set(['/a.dcm']));
    assert.equal(refused?.code, 'PATH_NOT_GRANTED');
    assert.match(refused!.message, /"\/b\.dcm".*not opened in this window.*not in the worklist/);
    const long = notGrantedRefusal([`/${'x'.repeat(4000)}`], new Set());
    assert.ok(long!.message.length < 400, 'a window-chosen path is quoted bounded');
  });
});

describe('the window policy', () => {
  function policy(stored: string[] | Envelope = []) {
    const asked: string[][] = [];
    const answer = Array.isArray(stored) ? null : stored;
    const windowPolicy = new WindowPolicy({
      semantics: 'posix',
      stored: async (paths) => {
        asked.push(paths);
        return answer ?? { ok: true, value: paths.filter((p) => (stored as string[]).includes(p)) };
      },
    });
    return { windowPolicy, asked };
  }

  test('grants are per window, and go when the window closes', async () => {
    const { windowPolicy } = policy();
    windowPolicy.grant(1, ['/data/reading']);
    assert.equal(await windowPolicy.check(1, 'scan.start', { paths: ['/data/reading/a.dcm'] }), null);
    assert.equal(
      (await windowPolicy.check(2, 'scan.start', { paths: ['/data/reading/a.dcm'] }))?.code,
      'PATH_NOT_GRANTED',
    );
    windowPolicy.forget(1);
    assert.equal(
      (await windowPolicy.check(1, 'scan.start', { paths: ['/data/reading/a.dcm'] }))?.code,
      'PATH_NOT_GRANTED',
    );
  });

  test('a stored file may be scanned again; the store is asked only about uncovered paths', async () => {
    const { windowPolicy, asked } = policy(['/archive/old.dcm']);
    windowPolicy.grant(1, ['/data/reading']);
    assert.equal(await windowPolicy.check(1, 'scan.start', { paths: ['/data/reading/a.dcm'] }), null);
    assert.deepEqual(asked, [], 'all granted: no question to the store');
    assert.equal(
      await windowPolicy.check(1, 'scan.start', { paths: ['/data/reading/a.dcm', '/archive/old.dcm'] }),
      null,
    );
    assert.deepEqual(asked, [['/archive/old.dcm']]);
    assert.equal(
      (await windowPolicy.check(1, 'scan.start', { paths: ['/archive/new.dcm'] }))?.code,
      'PATH_NOT_GRANTED',
    );
  });

  test('a remote path is refused before the store is asked; a failed lookup refuses with its code', async () => {
    const { windowPolicy, asked } = policy(['/net/host/a.dcm']);
    assert.equal((await windowPolicy.check(1, 'scan.start', { paths: ['/net/host/a.dcm'] }))?.code, 'PATH_NOT_LOCAL');
    assert.deepEqual(asked, []);
    const failing = policy({ ok: false, error: { code: 'ENGINE_TIMEOUT', message: 'late' } });
    assert.deepEqual(await failing.windowPolicy.check(1, 'scan.start', { paths: ['/x.dcm'] }), {
      code: 'ENGINE_TIMEOUT',
      message: 'late',
    });
  });

  test('other channels pass', async () => {
    const { windowPolicy } = policy();
    assert.equal(await windowPolicy.check(1, 'image.render', { file: '/anything.dcm' }), null);
    assert.equal(await windowPolicy.check(1, 'dialog.open', { kind: 'files' }), null);
  });
});

describe('what the main process opens in the system viewer for the engine', () => {
  test("only a validation's report, absolute and local, by the shape of its path", () => {
    const yes: Array<[string, 'posix' | 'win32']> = [
      ['/home/r/.local/share/cxr-triage/validations/2026-12-07T19-00-00.000Z/report.html', 'posix'],
      ['C:\\Users\\r\\AppData\\Roaming\\cxr-triage\\validations\\2026-12-07T19-00-00.000Z\\report.html', 'win32'],
    ];
    const no: Array<[string, 'posix' | 'win32']> = [
      ['/home/r/validations/x/report.html.exe', 'posix'],
      ['/home/r/validations/x/other.html', 'posix'],
      ['/home/r/elsewhere/x/report.html', 'posix'],
      ['/home/r/validations/../x/report.html', 'posix'],
      ['validations/x/report.html', 'posix'],
      ['/validations//report.html', 'posix'],
      ['\\\\server\\share\\validations\\x\\report.html', 'win32'],
      ['/net/host/validations/x/report.html', 'posix'],
      ['/bin/sh', 'posix'],
    ];
    for (const [path, semantics] of yes) assert.equal(isValidationReport(path, semantics), true, path);
    for (const [path, semantics] of no) assert.equal(isValidationReport(path, semantics), false, path);
  });
});
