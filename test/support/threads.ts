/**
 * The scheduling priority (nice) of this process's threads, read from /proc (Linux): what the
 * kernel actually applies, not what the code meant to set.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Thread id -> nice value, for every thread of this process. */
export function threadNiceValues(): Map<number, number> {
  const nice = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces and parentheses): state is field 3, nice field 19.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      nice.set(Number(tid), Number(fields[19 - 3]));
    } catch {
      // the thread ended while listing
    }
  }
  return nice;
}
