# coding=utf-8
"""What the Hugging Face reference recipes (ner_hf_recipe.py, re_hf_recipe.py) share: their flags, padding and
the training loop.

The loop is transformers' usual fine-tuning recipe written out: torch.optim.AdamW (no weight decay), a linear
warm-up over the first 10% of the steps then a linear decay to 0, gradients clipped to norm 1.0, batches drawn
from a seeded shuffle of the training set, epoch after epoch, the last partial batch of an epoch joined to the
next epoch's first ones (as run_ner and run_re's repeated, shuffled input does). `--optimizer=bert_adamw` swaps
AdamW for BERT's own AdamWeightDecay, the one run_ner and run_re train with, so that a difference between the two
sides can be put down to the optimizer or not.
"""

import random
import sys


def add_arguments(parser, learning_rate):
  """The flags both recipes take; `learning_rate` is the runner's README default."""
  parser.add_argument("--hf_dir", required=True)
  parser.add_argument("--data_dir", required=True)
  parser.add_argument("--output_dir", required=True)
  parser.add_argument("--num_train_epochs", type=float, default=3.0)
  parser.add_argument("--learning_rate", type=float, default=learning_rate)
  parser.add_argument("--batch_size", type=int, default=32)
  parser.add_argument("--max_seq_length", type=int, default=128)
  parser.add_argument("--seed", type=int, default=12345)
  parser.add_argument("--optimizer", choices=("adamw", "bert_adamw"), default="adamw",
                      help="adamw: torch.optim.AdamW, no weight decay (the recipe); bert_adamw: BERT's "
                           "AdamWeightDecay as run_ner and run_re train (no bias correction, weight decay 0.01, "
                           "not on LayerNorm and biases, epsilon 1e-6), to tell the optimizer from the rest")


def pad(torch, id_lists, pad_id):
  """[batch, longest] input ids and attention mask: a batch padded to its longest member (the collator's default)."""
  width = max(len(ids) for ids in id_lists)
  ids = torch.full((len(id_lists), width), pad_id, dtype=torch.long)
  mask = torch.zeros((len(id_lists), width), dtype=torch.long)
  for i, input_ids in enumerate(id_lists):
    ids[i, :len(input_ids)] = torch.tensor(input_ids)
    mask[i, :len(input_ids)] = 1
  return ids, mask


def bert_adam_weight_decay(torch, model, learning_rate):
  """BERT's AdamWeightDecayOptimizer (google-research/bert optimization.py) for torch parameters."""

  class AdamWeightDecay(torch.optim.Optimizer):
    """Adam without bias correction; decoupled weight decay added to the update."""

    def __init__(self, groups):
      super().__init__(groups, dict(lr=learning_rate, weight_decay=0.0, betas=(0.9, 0.999), eps=1e-6))

    @torch.no_grad()
    def step(self, closure=None):  # pylint: disable=unused-argument
      for group in self.param_groups:
        beta1, beta2 = group["betas"]
        for p in group["params"]:
          if p.grad is None:
            continue
          state = self.state[p]
          if not state:
            state["m"], state["v"] = torch.zeros_like(p), torch.zeros_like(p)
          m, v = state["m"], state["v"]
          m.mul_(beta1).add_(p.grad, alpha=1 - beta1)
          v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
          update = m / (v.sqrt() + group["eps"]) + group["weight_decay"] * p
          p.add_(update, alpha=-group["lr"])

  decay, no_decay = [], []
  for name, parameter in model.named_parameters():
    (no_decay if "LayerNorm" in name or name.endswith("bias") else decay).append(parameter)
  return AdamWeightDecay([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}])


def seed(torch, value):
  """Seeds Python's and torch's generators; called before the model is made (its new head is drawn from torch's)."""
  random.seed(value)
  torch.manual_seed(value)


def train(torch, transformers, model, loss_of_batch, num_examples, args):
  """Trains `model` for args.num_train_epochs over num_examples (after `seed`); returns the number of steps.

  Args:
    loss_of_batch: callable(list of example indices) -> the batch's loss tensor.
  """
  steps = int(num_examples / args.batch_size * args.num_train_epochs)
  if args.optimizer == "bert_adamw":
    optimizer = bert_adam_weight_decay(torch, model, args.learning_rate)
  else:
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=0.0)
  scheduler = transformers.get_linear_schedule_with_warmup(optimizer, int(0.1 * steps), steps)
  model.train()
  order = []
  for step in range(steps):
    if len(order) < args.batch_size:
      epoch = list(range(num_examples))
      random.shuffle(epoch)
      order.extend(epoch)
    batch, order = order[:args.batch_size], order[args.batch_size:]
    loss = loss_of_batch(batch)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad()
    if step % 50 == 0:
      print("step %d/%d loss %.4f" % (step, steps, loss.item()), file=sys.stderr)
  model.eval()
  return steps
