/**
 * Area resampling along one axis: output sample t is the mean of the source interval
 * [start + t * scale, start + (t + 1) * scale), so shrinking a radiograph 10-fold does not alias.
 * The interval covers its first and last source samples in part (weights `head` and `tail`) and
 * those between wholly, so its sum is
 *
 *   head * v[first] + (v[first + 1] + ... + v[last - 1]) + tail * v[last]
 *
 * added in that order (one sample: head * v[first]), in double precision. The whole samples are
 * summed on their own so that integer sources (display levels, integral stored values) sum them
 * exactly in integers; every path adds in this one order, and so does the reference
 * implementation in the tests.
 */

export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface AreaAxis {
  scale: number;
  first: Int32Array;
  count: Int32Array;
  head: Float64Array;
  tail: Float64Array;
}

export function areaAxis(sourceLength: number, start: number, length: number, target: number): AreaAxis {
  const scale = length / target;
  const axis = {
    scale,
    first: new Int32Array(target),
    count: new Int32Array(target),
    head: new Float64Array(target),
    tail: new Float64Array(target),
  };
  for (let t = 0; t < target; t++) {
    const from = start + t * scale;
    const to = from + scale;
    const first = Math.floor(from);
    const last = Math.min(sourceLength - 1, Math.ceil(to) - 1);
    axis.first[t] = first;
    axis.count[t] = Math.max(0, last - first + 1);
    axis.head[t] = Math.min(to, first + 1) - from;
    axis.tail[t] = Math.min(to, last + 1) - Math.max(from, last);
  }
  return axis;
}

/** The source samples an axis reads: [from, to). */
export function axisSpan(axis: AreaAxis): { from: number; to: number } {
  const last = axis.first.length - 1;
  return { from: axis.first[0], to: axis.first[last] + axis.count[last] };
}

/** The same axis with `first` counted from `origin` (the crop's first column, for the kernel). */
export function shifted(axis: AreaAxis, origin: number): AreaAxis {
  return { ...axis, first: axis.first.map((first) => first - origin) };
}
