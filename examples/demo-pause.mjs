// `plateflow demo --task-delay` runs this step first, so the map on the dashboard fills slowly
// enough to watch: it holds a task's images for kwargs.ms milliseconds (its worker sleeps,
// nothing is computed) and passes them on unchanged. Not meant for real pipelines.
const sleeper = new Int32Array(new SharedArrayBuffer(4));

export const demoPause = {
  name: 'demo_pause',
  description: 'waits kwargs.ms milliseconds, then passes the stack on unchanged (used by plateflow demo --task-delay)',
  run(stack, kwargs) {
    Atomics.wait(sleeper, 0, 0, kwargs.ms);
    return stack;
  },
};
