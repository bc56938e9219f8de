/**
 * A minimal reverse-mode autograd over the engine's tensors.
 *
 * A `Tape` wraps one open Recorder. Differentiable ops (src/train/ops.ts) record their forward
 * dispatches into it and add a node to the tape: the inputs, the output, the derivative rule
 * (src/train/rules.ts) and what the rule saved for backward. `backward(loss)` sorts the nodes
 * that lead to the loss topologically and runs their rules in reverse, recording the backward
 * dispatches into the same recorder, so a training step (forward, backward, optimizer) is one
 * encoder and one submit.
 *
 * Gradients: a tensor used twice receives the sum of its gradients (accumulated in place, in a
 * buffer the driver owns); where an op broadcast an input, its rule sums the gradient back to the
 * input's shape. Parameters keep their gradient after backward (`Parameter.grad`, accumulated over
 * several backward calls until `zeroGrad()`); every other gradient is transient.
 *
 * Memory: as soon as a node's rule has run, its upstream gradient, the tensors it saved only for
 * backward and its own output value are released to the pool (unless the output was retained with
 * `retain()`, e.g. the loss to read it, or logits for metrics). Releasing inside an open recorder is
 * safe because a recycled buffer is only written by dispatches recorded later, which run later.
 * The one thing that is not safe is a queue write (`ctx.write`, `ctx.zeros`, `ctx.tensor`) into a
 * pool buffer while a recorder that read its previous contents is still unsubmitted: initialise
 * buffers inside a step with kernels (`fill`) instead.
 */
import { AtelierGpuError } from '../runtime/errors.ts';
import type { Recorder } from '../runtime/recorder.ts';
import { Tensor } from '../runtime/tensor.ts';
import { accumulate, fill, scale } from './backward/elementwise.ts';

/** A trainable tensor that lives across steps, with its gradient and optimizer options. */
export class Parameter {
  grad: Tensor | null = null;
  /**
   * @param decay whether AdamW's weight decay applies; by default matrices and kernels decay,
   *   vectors (biases, norm gains) do not.
   */
  constructor(
    readonly name: string,
    public value: Tensor,
    readonly decay = value.shape.length >= 2,
  ) {}

  zeroGrad(): void {
    this.grad?.dispose();
    this.grad = null;
  }
}

/** A tensor on a tape: a parameter, a constant input, or the output of a recorded op. */
export class Var {
  /** @internal use Tape.param / Tape.constant / Tape.record */
  constructor(
    readonly tape: Tape,
    readonly value: Tensor,
    readonly requiresGrad: boolean,
    readonly node: TapeNode | null,
    readonly param: Parameter | null,
    /** The var whose buffer this one views (reshape), so retaining a view keeps its storage. */
    readonly base: Var | null,
  ) {}

  get shape(): readonly number[] {
    return this.value.shape;
  }
}

/**
 * A derivative rule: given the node (inputs, output, saved state) and the gradient of the output,
 * records kernels computing the gradient of each input that `needs` it (null for the others).
 * A rule may return `dOut` itself for an input (pass-through); the driver then hands it over
 * instead of copying, and copies only when it is handed to a second input. A returned gradient
 * must have its input's element count; a different shape of the same size is re-labelled.
 */
export interface Rule<S = unknown> {
  readonly op: string;
  backward(rec: Recorder, node: TapeNode<S>, dOut: Tensor, needs: readonly boolean[]): readonly (Tensor | null)[];
}

export interface TapeNode<S = unknown> {
  readonly rule: Rule<S>;
  readonly inputs: readonly Var[];
  readonly output: Var;
  readonly saved: S;
  /** Tensors created by the forward only to be read by backward; released after the rule runs. */
  readonly ownedSaved: Tensor[];
}

export interface RecordOptions {
  /** Tensors the forward made for backward (e.g. layernorm's mean and rstd); the tape frees them. */
  ownedSaved?: Tensor[];
  /** The output is a view of this input's buffer (reshape): the tape must not free it separately. */
  viewOf?: Var;
}

export class Tape {
  private readonly nodes: TapeNode[] = [];
  /** Intermediate values and saved tensors the tape still has to release. */
  private readonly live = new Set<Tensor>();
  private readonly retained = new Set<Var>();
  private disposed = false;

  constructor(readonly rec: Recorder) {}

  /** A parameter as a leaf that receives a gradient. */
  param(p: Parameter): Var {
    this.assertOpen();
    return new Var(this, p.value, true, null, p, null);
  }

  /** A tensor that needs no gradient (images, ids, labels, masks). The caller keeps ownership. */
  constant(t: Tensor): Var {
    this.assertOpen();
    return new Var(this, t, false, null, null, null);
  }

  /** Add a node for an op whose forward was just recorded; the tape owns `output` from now on. */
  record<S>(rule: Rule<S>, inputs: readonly Var[], output: Tensor, saved: S, options: RecordOptions = {}): Var {
    this.assertOpen();
    for (const v of inputs) {
      if (v.tape !== this) throw new AtelierGpuError('usage', `${rule.op}: an input belongs to another tape`);
    }
    const requiresGrad = inputs.some((v) => v.requiresGrad);
    const ownedSaved = options.ownedSaved ?? [];
    for (const t of ownedSaved) this.live.add(t);
    if (!options.viewOf) this.live.add(output);
    const node: TapeNode<S> = { rule, inputs, output: undefined as unknown as Var, saved, ownedSaved };
    const out = new Var(this, output, requiresGrad, node as TapeNode, null, options.viewOf ?? null);
    (node as { output: Var }).output = out;
    this.nodes.push(node as TapeNode);
    return out;
  }

  /** Keep a var's value alive through backward (until dispose()), e.g. the loss or logits to read. */
  retain(v: Var): Var {
    for (let x: Var | null = v; x; x = x.base) this.retained.add(x);
    return v;
  }

  /**
   * Record the backward pass from `root`. Without `seed`, root's gradient is 1 everywhere (a
   * scalar loss); with it, the gradient of sum(root * seed) (the caller keeps the seed).
   */
  backward(root: Var, seed?: Tensor): void {
    this.assertOpen();
    if (!root.requiresGrad) throw new AtelierGpuError('usage', 'backward: the root does not depend on any parameter');
    if (seed && seed.size !== root.value.size) {
      throw new AtelierGpuError('usage', `backward: seed [${seed.shape.join(', ')}] does not match the root [${root.shape.join(', ')}]`);
    }
    const rec = this.rec;
    this.retain(root);
    const grads = new Map<Var, Tensor>();
    grads.set(root, seed ? scale(rec, seed.reshape(root.shape), 1) : fill(rec, root.shape, 1));
    const deliver = (v: Var, g: Tensor) => {
      if (v.param) {
        if (v.param.grad) {
          accumulate(rec, v.param.grad, g);
          g.dispose();
        } else {
          v.param.grad = g;
        }
        return;
      }
      const prev = grads.get(v);
      if (prev) {
        accumulate(rec, prev, g);
        g.dispose();
      } else {
        grads.set(v, g);
      }
    };

    const order = this.topologicalOrder(root);
    for (let n = order.length - 1; n >= 0; n--) {
      const node = order[n];
      const dOut = grads.get(node.output);
      grads.delete(node.output);
      if (dOut) {
        const needs = node.inputs.map((v) => v.requiresGrad);
        const inputGrads = node.rule.backward(rec, node, dOut, needs);
        let handedOver = false;
        node.inputs.forEach((input, i) => {
          let g = inputGrads[i] ?? null;
          if (!g) return;
          if (!needs[i]) {
            if (g !== dOut) g.dispose();
            return;
          }
          if (g === dOut) {
            if (handedOver) g = scale(rec, dOut, 1);
            handedOver = true;
          }
          deliver(input, this.asShape(g, input.shape, node.rule.op, i));
        });
        if (!handedOver) dOut.dispose();
      }
      this.release(node);
    }
  }

  /** Release everything the tape still owns (intermediate values, retained ones included). */
  dispose(): void {
    for (const t of this.live) t.dispose();
    this.live.clear();
    this.retained.clear();
    this.nodes.length = 0;
    this.disposed = true;
  }

  /** Nodes that lead to `root` through inputs that need gradients, in forward order. */
  private topologicalOrder(root: Var): TapeNode[] {
    const order: TapeNode[] = [];
    const visited = new Set<TapeNode>();
    const stack: { node: TapeNode; next: number }[] = [];
    const visit = (v: Var) => {
      if (v.requiresGrad && v.node && !visited.has(v.node)) {
        visited.add(v.node);
        stack.push({ node: v.node, next: 0 });
      }
    };
    visit(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.next < top.node.inputs.length) visit(top.node.inputs[top.next++]);
      else order.push(stack.pop()!.node);
    }
    return order;
  }

  /** A gradient with the input's shape: re-labelled (same buffer, ownership moves) if only the shape differs. */
  private asShape(g: Tensor, shape: readonly number[], op: string, input: number): Tensor {
    if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
    if (g.size !== shape.reduce((p, d) => p * d, 1)) {
      throw new AtelierGpuError('usage', `rule ${op}: gradient of input ${input} has shape [${g.shape.join(', ')}], the input [${shape.join(', ')}]`);
    }
    // `g` is abandoned without dispose(): the new tensor takes over its pool buffer.
    return new Tensor(g.ctx, g.buffer, shape, g.dtype, true, g.label);
  }

  private release(node: TapeNode): void {
    for (const t of node.ownedSaved) this.free(t);
    const out = node.output;
    if (!out.base && !this.retained.has(out)) this.free(out.value);
  }

  private free(t: Tensor): void {
    if (this.live.delete(t)) t.dispose();
  }

  private assertOpen(): void {
    if (this.disposed) throw new AtelierGpuError('usage', 'the tape was disposed');
  }
}
