# coding=utf-8
"""What the Hugging Face reference recipes (ner_hf_recipe.py, re_hf_recipe.py) share: their flags, padding and
the training loop.

The loop is transformers' usual fine-tuning recipe written out: torch.optim.AdamW (no weight decay), a linear
warm-up over the first 10% of the steps then a linear decay to 0, gradients clipped to norm 1.0, batches drawn
from a seeded shuffle of the training set, epoch after epoch, the last partial batch of an epoch joined to the
next epoch's first ones (as run_ner and run_re's repeated, shuffled input does).
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


def pad(torch, id_lists, pad_id):
  """[batch, longest] input ids and attention mask: a batch padded to its longest member (the collator's default)."""
  width = max(len(ids) for ids in id_lists)
  ids = torch.full((len(id_lists), width), pad_id, dtype=torch.long)
  mask = torch.zeros((len(id_lists), width), dtype=torch.long)
  for i, input_ids in enumerate(id_lists):
    ids[i, :len(input_ids)] = torch.tensor(input_ids)
    mask[i, :len(input_ids)] = 1
  return ids, mask


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
