/**
 * dcmjs-dimse logs every association and presentation context at info level by default; the
 * node reports what matters itself (its events, the SCU's outcomes, without patient data), so the
 * library prints nothing: its messages would reach the console outside the product's log.
 */
import dimse from 'dcmjs-dimse';

let quieted = false;

export function quietLibrary(): void {
  if (quieted) return;
  quieted = true;
  dimse.log.setLevel('silent');
}
