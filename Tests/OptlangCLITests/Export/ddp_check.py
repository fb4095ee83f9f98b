"""Checks an exported optimizer under DistributedDataParallel (2 CPU processes, gloo):
both ranks end with identical parameters, equal to one process on the whole batch, and
every parameter moved (so an optimizer whose step does nothing fails)."""
import importlib.util, os, sys, tempfile
os.environ.setdefault("OMP_NUM_THREADS", "1")
try:
    import torch, torch.nn as nn, torch.distributed as dist, torch.multiprocessing as mp
except ImportError:
    print("SKIPPED: torch cannot be imported")
    sys.exit(0)

MODULE = sys.argv[1]

def load():
    spec = importlib.util.spec_from_file_location("exported", MODULE)
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    return next(v for v in vars(m).values() if isinstance(v, type) and issubclass(v, torch.optim.Optimizer) and v is not torch.optim.Optimizer)

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Embedding(11, 8)
        self.blocks = nn.ModuleList([nn.ModuleDict({"ln1": nn.LayerNorm(8, bias=False),
            "attn": nn.ModuleDict({"wq": nn.Linear(8, 8, bias=False)}),
            "mlp": nn.ModuleDict({"fc": nn.Linear(8, 12, bias=False), "proj": nn.Linear(12, 8, bias=False)})}) for _ in range(2)])
        self.head = nn.Linear(8, 11, bias=False)
    def forward(self, ids):
        h = self.embed(ids)
        for b in self.blocks:
            h = b["ln1"](h)
            h = h + b["attn"]["wq"](h)
            h = h + b["mlp"]["proj"](torch.relu(b["mlp"]["fc"](h)))
        return self.head(h)

def batches():
    g = torch.Generator().manual_seed(1)
    return [(torch.randint(0, 11, (8, 6), generator=g), torch.randint(0, 11, (8, 6), generator=g)) for _ in range(5)]

def train(model, opt, data, rank=0, world=1):
    for x, y in data:
        x, y = x[rank::world], y[rank::world]
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x).reshape(-1, 11), y.reshape(-1))
        loss.backward()
        opt.step()

def worker(rank, world, path):
    dist.init_process_group("gloo", init_method=f"file://{path}", rank=rank, world_size=world)
    model = nn.parallel.DistributedDataParallel(Model())
    opt = load()(model.named_parameters(), total_steps=5)
    train(model, opt, batches(), rank, world)
    torch.save({n: p.detach().clone() for n, p in model.module.named_parameters()}, f"{path}.rank{rank}")
    dist.barrier()  # both ranks done before the group is torn down (avoids gloo teardown races)
    dist.destroy_process_group()

if __name__ == "__main__":
    torch.set_num_threads(1)
    path = tempfile.mktemp()
    mp.spawn(worker, args=(2, path), nprocs=2)
    a, b = torch.load(f"{path}.rank0"), torch.load(f"{path}.rank1")
    single = Model()
    train(single, load()(single.named_parameters(), total_steps=5), batches())
    initial = dict(Model().named_parameters())
    ranks_equal = all(torch.equal(a[n], b[n]) for n in a)
    # Relative to how far each parameter moved, so that a step that does nothing fails twice:
    # it moves nothing, and it agrees with one process only trivially.
    diff = max(float((a[n] - p.detach()).abs().max()) for n, p in single.named_parameters())
    moves = {n: float((a[n] - initial[n].detach()).abs().max()) for n in a}
    least = min(moves, key=moves.get)
    print(f"ranks identical: {ranks_equal}")
    print(f"agrees with one process: {diff <= 1e-4 * max(moves.values())} "
          f"(largest difference from one process on the whole batch {diff:.2e}, largest move {max(moves.values()):.2e})")
    print(f"parameters moved: {moves[least] > 0} (least: {least} by {moves[least]:.2e})")
