/**
 * dcmjs-dimse logs every association and presentation context at info level by default; the
 * node reports what matters itself (without patient data), so the library speaks only of errors.
 */
import dimse from 'dcmjs-dimse';

let quieted = false;

export function quietLibrary(): void {
  if (quieted) return;
  quieted = true;
  dimse.log.setLevel('error');
}
