"""lm_reference.py - a float64 reference for the language-model head, in plain Python
(no numpy), written from docs/model.md and bilm-tf's definitions, sharing nothing with
core/:

  - `Bilm`: the biLM's first step of each direction (the outputs at <S> and </S>), which
    the golden fixtures leave out (their rows are the tokens only). It also runs a few
    more steps so that the tests can check it against the fixtures' TensorFlow outputs
    before trusting it.
  - `Head`: softmax/W [V, P], softmax/b [V] and the vocabulary; log-softmax, ranks,
    perplexity (bilm-tf's definition) and top-k words, all in float64.

Weights are read with h5dump (hdf5-tools) with 9 significant digits: float32 values
round-trip exactly."""
import math

from elmo_sql import h5_dataset


def matrix(shape, values):
    """Rows of a [rows, cols] flat list (a 4-D conv kernel [1, w, d, n] as [w*d, n])."""
    cols = shape[-1]
    return [values[i:i + cols] for i in range(0, len(values), cols)]


def vec_mat(x, m):
    """x [K] . m [K, N] -> [N]."""
    out = [0.0] * len(m[0])
    for xk, row in zip(x, m):
        if xk:
            for n, w in enumerate(row):
                out[n] += xk * w
    return out


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def clip(x, c):
    return max(-c, min(c, x)) if c else x


class Bilm:
    """The biLM of an options + HDF5 pair, in float64, one position at a time."""

    BOS, EOS, BOW, EOW, PAD = 256, 257, 258, 259, 260  # unshifted character ids

    def __init__(self, options, weights):
        self.o = options
        lstm, cnn = options["lstm"], options["char_cnn"]
        self.P, self.H, self.L = lstm["projection_dim"], lstm["dim"], lstm["n_layers"]
        self.cell_clip, self.proj_clip = lstm.get("cell_clip") or 0, lstm.get("proj_clip") or 0
        self.skip = lstm.get("use_skip_connections", False)
        self.C = cnn["max_characters_per_token"]
        self.filters = cnn["filters"]

        def load(name):
            return h5_dataset(weights, name)

        self.char_embed = matrix(*load("char_embed"))
        self.conv = [(matrix(*load("CNN/W_cnn_%d" % i)), load("CNN/b_cnn_%d" % i)[1])
                     for i in range(len(self.filters))]
        self.highway = [(matrix(*load("CNN_high_%d/W_carry" % k)), load("CNN_high_%d/b_carry" % k)[1],
                         matrix(*load("CNN_high_%d/W_transform" % k)),
                         load("CNN_high_%d/b_transform" % k)[1])
                        for k in range(cnn.get("n_highway", 0))]
        self.proj = (matrix(*load("CNN_proj/W_proj")), load("CNN_proj/b_proj")[1])
        self.cells = {}
        for d in range(2):
            for layer in range(self.L):
                base = "RNN_%d/RNN/MultiRNNCell/Cell%d/LSTMCell/" % (d, layer)
                self.cells[d, layer] = (matrix(*load(base + "W_0")), load(base + "B")[1],
                                        matrix(*load(base + "W_P_0")))

    def char_ids(self, token):
        if token in ("<S>", "</S>"):
            body = [self.BOS if token == "<S>" else self.EOS]
        else:
            body = list(token.encode("utf-8")[:self.C - 2])
        ids = [self.BOW] + body + [self.EOW]
        return ids + [self.PAD] * (self.C - len(ids))

    def embed(self, token):
        """The token embedding e [P]: char CNN, max-pool, relu, highways, projection."""
        chars = [self.char_embed[i] for i in self.char_ids(token)]
        x = []
        for (w, b), (width, count) in zip(self.conv, self.filters):
            best = [-math.inf] * count
            for p in range(self.C - width + 1):
                window = [v for k in range(width) for v in chars[p + k]]
                s = vec_mat(window, w)
                best = [max(bb, sv + bv) for bb, sv, bv in zip(best, s, b)]
            x += [max(0.0, v) for v in best]
        for wc, bc, wt, bt in self.highway:
            g = [sigmoid(v + bb) for v, bb in zip(vec_mat(x, wc), bc)]
            t = [max(0.0, v + bb) for v, bb in zip(vec_mat(x, wt), bt)]
            x = [gg * tt + (1 - gg) * xx for gg, tt, xx in zip(g, t, x)]
        w, b = self.proj
        return [v + bb for v, bb in zip(vec_mat(x, w), b)]

    def step(self, d, layer, x, state):
        """One LSTM step: returns the output h' and the new state (c', h')."""
        w0, bias, wp = self.cells[d, layer]
        c, h = state
        z = [v + bb for v, bb in zip(vec_mat(x + h, w0), bias)]
        H = self.H
        c2 = [clip(sigmoid(z[2 * H + u] + 1.0) * c[u] + sigmoid(z[u]) * math.tanh(z[H + u]),
                   self.cell_clip) for u in range(H)]
        m = [sigmoid(z[3 * H + u]) * math.tanh(c2[u]) for u in range(H)]
        h2 = [clip(v, self.proj_clip) for v in vec_mat(m, wp)]
        return h2, (c2, h2)

    def run(self, d, tokens):
        """The top layer of direction d over `tokens` in the order given (for d = 1 pass
        them reversed), from zero state: one output [P] per token."""
        states = [([0.0] * self.H, [0.0] * self.P) for _ in range(self.L)]
        outs = []
        for tok in tokens:
            x = self.embed(tok)
            for layer in range(self.L):
                h, states[layer] = self.step(d, layer, x, states[layer])
                x = [a + b for a, b in zip(h, x)] if self.skip and layer > 0 else h
            outs.append(x)
        return outs


class Head:
    """softmax/W [V, P], softmax/b [V] and the vocabulary, in float64."""

    def __init__(self, softmax_path, vocab_path):
        shape, w = h5_dataset(softmax_path, "softmax/W")
        self.V, self.P = shape
        self.W = matrix(shape, w)
        self.b = h5_dataset(softmax_path, "softmax/b")[1]
        with open(vocab_path, encoding="utf-8") as f:
            self.words = [line.strip() for line in f.read().split("\n") if line.strip()]
        assert len(self.words) == self.V
        self.row = {w: i for i, w in enumerate(self.words)}

    def logits(self, h, bias=True, limit=None):
        """W h (+ b) over rows [0, limit): P products each, exact to ~1e-16 in float64."""
        n = limit or self.V
        return [sum(map(float.__mul__, self.W[v], h)) + (self.b[v] if bias else 0.0)
                for v in range(n)]

    @staticmethod
    def lse(x):
        m = max(x)
        return m + math.log(math.fsum(math.exp(v - m) for v in x))

    def target(self, word, limit=None):
        v = self.row.get(word, -1)
        return v if 0 <= v < (limit or self.V) else self.row["<UNK>"]

    def score(self, h, word, **kw):
        """(log p, rank, rank window) of `word` given the output h; the window is the
        range of ranks that logits within 1e-4 of the target's allow (near-ties that
        float32 may order either way)."""
        x = self.logits(h, **kw)
        t = x[self.target(word, kw.get("limit"))]
        above = sum(v > t for v in x)
        near_above = sum(t < v <= t + 1e-4 for v in x)
        near_below = sum(t - 1e-4 <= v < t for v in x)
        return t - self.lse(x), 1 + above, (1 + above - near_above, 1 + above + near_below)


def sentence_scores(head, fwd, bwd, tokens, **kw):
    """Per entry (<S>, tokens..., </S>): (forward, backward) as (logprob, rank, window) or
    None. fwd [n+1] are f[0..n], bwd [n+1] are g[1..n+1]."""
    n = len(tokens)
    targets_f = tokens + ["</S>"]
    targets_b = ["<S>"] + tokens
    entries = [[None, None] for _ in range(n + 2)]
    for t in range(n + 1):
        entries[t + 1][0] = head.score(fwd[t], targets_f[t], **kw)
        entries[t][1] = head.score(bwd[t], targets_b[t], **kw)
    return entries


def perplexity(entries, direction="both"):
    n1 = len(entries) - 1
    loss_f = -math.fsum(e[0][0] for e in entries[1:]) / n1
    loss_b = -math.fsum(e[1][0] for e in entries[:-1]) / n1
    return math.exp({"both": 0.5 * (loss_f + loss_b), "forward": loss_f,
                     "backward": loss_b}[direction])


def predict(head, hf, hb, k, exclude=("<S>", "</S>", "<UNK>"), bias=True, limit=None):
    """The top k (word, logprob) for a slot: LAMA's mean of the two log-softmaxes, or the
    forward one alone when hb is None; ties to the lower row."""
    xf = head.logits(hf, bias, limit)
    lf = head.lse(xf)
    scores = [v - lf for v in xf]
    if hb is not None:
        xb = head.logits(hb, bias, limit)
        lb = head.lse(xb)
        scores = [0.5 * (a + (v - lb)) for a, v in zip(scores, xb)]
    order = sorted((v for v in range(len(scores)) if head.words[v] not in exclude),
                   key=lambda v: (-scores[v], v))
    return [(head.words[v], scores[v]) for v in order[:k]], scores
