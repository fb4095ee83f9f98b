"""Checks an exported optimizer under FSDP2 (`fully_shard`, 2 CPU processes, gloo): after 4
steps, each on half the batch per process, the gathered parameters are within 1e-5
(relative) of one process training on the whole batch, every parameter moved, and a
parameter sharded otherwise (by columns) is refused.

The model's shapes make the shards uneven (11 rows: 6 and 5) and leave one process with no
rows at all of a 1 × 8 matrix, which Newton–Schulz and the norms must still see whole.
usage: fsdp_check.py MODULE"""
import importlib.util, os, sys, tempfile
os.environ.setdefault("OMP_NUM_THREADS", "1")
try:
    import torch, torch.nn as nn, torch.distributed as dist, torch.multiprocessing as mp
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Shard, distribute_tensor
except ImportError as error:
    print(f"SKIPPED: {error}")
    sys.exit(0)

MODULE = sys.argv[1]
STEPS = 4


def load():
    spec = importlib.util.spec_from_file_location("exported", MODULE)
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    return next(v for v in vars(m).values() if isinstance(v, type) and issubclass(v, torch.optim.Optimizer) and v is not torch.optim.Optimizer)


class Block(nn.Module):
    """One block (FSDP2 shards each block as a unit): names blocks.N.ln1 / attn.wq / mlp.fc / mlp.proj."""
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(8, bias=False)
        self.attn = nn.ModuleDict({"wq": nn.Linear(8, 8, bias=False)})
        self.mlp = nn.ModuleDict({"fc": nn.Linear(8, 12, bias=False), "proj": nn.Linear(12, 8, bias=False)})

    def forward(self, h):
        h = self.ln1(h)
        h = h + self.attn["wq"](h)
        return h + self.mlp["proj"](torch.relu(self.mlp["fc"](h)))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Embedding(11, 8)
        self.gate = nn.Parameter(torch.randn(1, 8))
        self.blocks = nn.ModuleList([Block() for _ in range(2)])
        self.head = nn.Linear(8, 11, bias=False)

    def forward(self, ids):
        h = self.embed(ids) * torch.sigmoid(self.gate)
        for b in self.blocks:
            h = b(h)
        return self.head(h)


def batches():
    g = torch.Generator().manual_seed(1)
    return [(torch.randint(0, 11, (8, 6), generator=g), torch.randint(0, 11, (8, 6), generator=g)) for _ in range(STEPS)]


def train(model, opt, data, rank=0, world=1):
    for x, y in data:
        x, y = x[rank::world], y[rank::world]
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x).reshape(-1, 11), y.reshape(-1))
        loss.backward()
        opt.step()


def worker(rank, world, path):
    dist.init_process_group("gloo", init_method=f"file://{path}", rank=rank, world_size=world)
    mesh = init_device_mesh("cpu", (world,))
    model = Model()
    for block in model.blocks:
        fully_shard(block, mesh=mesh)
    fully_shard(model, mesh=mesh)
    empty = [n for n, p in model.named_parameters() if p.to_local().numel() == 0]
    opt = load()(model.named_parameters(), total_steps=STEPS)
    train(model, opt, batches(), rank, world)
    full = {n: p.full_tensor().detach().clone() for n, p in model.named_parameters()}
    # A layout other than FSDP2's rows (here columns) is refused, never stepped wrongly.
    columns = nn.Parameter(distribute_tensor(torch.randn(4, 6), mesh, [Shard(1)]))
    try:
        load()([("blocks.0.attn.wq.weight", columns)], total_steps=1)
        refused = False
    except ValueError as error:
        refused = "Shard(dim=1)" in str(error)
    if rank == 0:
        torch.save({"params": full, "refused": refused}, f"{path}.rank0")
    else:
        torch.save({"empty": empty}, f"{path}.rank1")
    dist.barrier()  # both ranks done before the group is torn down
    dist.destroy_process_group()


if __name__ == "__main__":
    torch.set_num_threads(1)
    path = tempfile.mktemp()
    mp.spawn(worker, args=(2, path), nprocs=2)
    rank0, empty = torch.load(f"{path}.rank0"), torch.load(f"{path}.rank1")["empty"]
    sharded = rank0["params"]
    single = Model()
    train(single, load()(single.named_parameters(), total_steps=STEPS), batches())
    initial = dict(Model().named_parameters())
    error = max(float(((sharded[n] - p.detach()).abs() / p.detach().abs().clamp(min=1)).max()) for n, p in single.named_parameters())
    moves = {n: float((sharded[n] - initial[n].detach()).abs().max()) for n in sharded}
    least = min(moves, key=moves.get)
    print(f"FSDP2 agrees with one process: {error <= 1e-5} (largest relative difference {error:.2e}, largest move {max(moves.values()):.2e})")
    print(f"parameters moved: {moves[least] > 0} (least: {least} by {moves[least]:.2e})")
    print(f"a process held no rows of: {', '.join(empty) or 'nothing'}")
    print(f"a parameter sharded by columns is refused: {rank0['refused']}")
