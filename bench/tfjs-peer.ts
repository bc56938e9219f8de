/**
 * Waiting for a tfjs-webgpu result the way our cases wait for theirs: until the GPU is done, without
 * copying the whole output back (our timings exclude readback, so the peer's must too). Reading one
 * element of a 1-element slice costs a tiny kernel and a 4-byte copy.
 */
type Tf = typeof import('@tensorflow/tfjs-core');

export async function settleTfjs(tf: Tf, result: import('@tensorflow/tfjs-core').Tensor): Promise<void> {
  const corner = tf.slice(tf.reshape(result, [-1]), [0], [1]);
  await corner.data();
  corner.dispose();
}
