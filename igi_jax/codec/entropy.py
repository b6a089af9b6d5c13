"""Entropy coding of a ``.igi`` file's symbol streams, with contexts the decoder can rebuild.

A stream is ``u8 mode`` then its body; the encoder codes every mode it may use and keeps the
shortest, so no mode ever costs more than the symbols' fixed width:

- ``RAW``: the symbols bit-packed at their fixed width.
- ``STATIC``: their histogram as unsigned LEB128 varints, a u32 word count, ANS words.
- ``ADAPTIVE``: ANS words under counts that learn as the stream goes (no histogram sent).
- ``CONTEXT``: the same, with one set of counts per context: a value the decoder already knows
  when it reaches the symbol (the local density of the positions, the previous colour stage).

Adaptive counts are updated per block (64 symbols, doubling up to 4,096), so that both sides
work a block at a time in numpy: symbol ``i`` of a block, in context ``c``, has probability
``(n_c[s] + ½) / (Σ n_c + ½ K)`` with ``n_c`` the counts of the earlier blocks (the
Krichevsky–Trofimov estimate). Every probability is a ratio of integers in float64, so the
decoder's models are bit-identical to the encoder's on any IEEE machine. The coder is
``constriction``'s ANS.
"""

from __future__ import annotations

import numpy as np

RAW, STATIC, ADAPTIVE, CONTEXT = 0, 1, 2, 3
MODES = (RAW, STATIC, ADAPTIVE, CONTEXT)
FIRST_BLOCK, LAST_BLOCK = 64, 4096
PRIOR = 0.5
DENSITY_CONTEXTS = 8
_NEIGHBOURS = 3


class StreamError(ValueError):
    """A stream whose bytes cannot be what the encoder wrote."""


def width(alphabet: int) -> int:
    """Bits a symbol of ``alphabet`` takes bit-packed."""
    return max(1, (alphabet - 1).bit_length())


def varints(values: np.ndarray) -> bytes:
    out = bytearray()
    for v in values.tolist():
        while True:
            byte, v = v & 0x7F, v >> 7
            out.append(byte | (0x80 if v else 0))
            if not v:
                break
    return bytes(out)


def _bit_shifts(widths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each value's first bit and each bit's shift, for values of ``widths`` bits laid end to end."""
    starts = np.cumsum(widths) - widths
    total = int(widths.sum())
    return starts, np.repeat(widths, widths) - 1 - (np.arange(total) - np.repeat(starts, widths))


def pack_bits(values: np.ndarray, widths: np.ndarray) -> bytes:
    """``values`` at their own ``widths`` in bits, most significant first, then byte-padded."""
    widths = widths.astype(np.int64)
    _, shift = _bit_shifts(widths)
    bits = (np.repeat(values.astype(np.int64), widths) >> shift) & 1
    return np.packbits(bits.astype(np.uint8)).tobytes()


def unpack_bits(data: bytes, widths: np.ndarray) -> np.ndarray:
    """The ``[N]`` int64 values :func:`pack_bits` wrote at ``widths``."""
    widths = widths.astype(np.int64)
    starts, shift = _bit_shifts(widths)
    bits = np.unpackbits(np.frombuffer(data, np.uint8))[: shift.size].astype(np.int64) << shift
    out = np.zeros(widths.shape, np.int64)
    live = widths > 0
    out[live] = np.add.reduceat(bits, starts[live]) if shift.size else 0
    return out


def blocks(n: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of the adaptive blocks of a stream of ``n`` symbols."""
    out, start, size = [], 0, FIRST_BLOCK
    while start < n:
        out.append((start, min(n, start + size)))
        start, size = start + size, min(2 * size, LAST_BLOCK)
    return out


def _categorical():
    import constriction

    return constriction.stream.model.Categorical(perfect=False)


def _probabilities(counts: np.ndarray, contexts: np.ndarray) -> np.ndarray:
    """``[B, K]`` probabilities of a block's symbols from the earlier blocks' ``counts [C, K]``."""
    table = counts + PRIOR  # one row per context, then gathered: C ≪ B
    return (table / table.sum(axis=1, keepdims=True))[contexts]


def _adaptive_words(symbols: np.ndarray, contexts: np.ndarray, alphabet: int, num: int) -> np.ndarray:
    import constriction

    spans = blocks(symbols.size)
    counts, snapshots = np.zeros((num, alphabet), np.int64), []
    for start, stop in spans:
        snapshots.append(counts.copy())
        np.add.at(counts, (contexts[start:stop], symbols[start:stop]), 1)
    coder, model = constriction.stream.stack.AnsCoder(), _categorical()
    for (start, stop), seen in zip(reversed(spans), reversed(snapshots), strict=True):  # ANS is a stack
        coder.encode_reverse(symbols[start:stop], model, _probabilities(seen, contexts[start:stop]))
    return coder.get_compressed().astype("<u4")


def _adaptive_symbols(words: np.ndarray, contexts: np.ndarray, alphabet: int, num: int) -> np.ndarray:
    import constriction

    coder, model = constriction.stream.stack.AnsCoder(words), _categorical()
    counts = np.zeros((num, alphabet), np.int64)
    out = np.zeros(contexts.size, np.int32)
    for start, stop in blocks(contexts.size):
        block = coder.decode(model, _probabilities(counts, contexts[start:stop])).astype(np.int32)
        out[start:stop] = block
        np.add.at(counts, (contexts[start:stop], block), 1)
    return out


def _static_model(counts: np.ndarray):
    import constriction

    return constriction.stream.model.Categorical(counts / counts.sum(), perfect=False)


def encode_stream(
    symbols: np.ndarray,
    alphabet: int,
    contexts: np.ndarray | None = None,
    num_contexts: int = 1,
    modes: tuple[int, ...] = MODES,
) -> bytes:
    """The shortest coding of ``symbols [N]`` (each in ``0 … alphabet − 1``) among ``modes``
    (:data:`RAW` always); ``contexts [N]`` (each in ``0 … num_contexts − 1``) offers :data:`CONTEXT`."""
    symbols = np.asarray(symbols, np.int32)
    options = [bytes([RAW]) + pack_bits(symbols, np.full(symbols.shape, width(alphabet)))]
    if symbols.size:
        import constriction

        if STATIC in modes:
            counts = np.bincount(symbols, minlength=alphabet)
            coder = constriction.stream.stack.AnsCoder()
            coder.encode_reverse(symbols, _static_model(counts))
            options.append(bytes([STATIC]) + varints(counts) + _words(coder.get_compressed()))
        if ADAPTIVE in modes:
            zero = np.zeros(symbols.size, np.int64)
            options.append(bytes([ADAPTIVE]) + _words(_adaptive_words(symbols, zero, alphabet, 1)))
        if CONTEXT in modes and contexts is not None and num_contexts > 1:
            ctx = np.asarray(contexts, np.int64)
            options.append(bytes([CONTEXT]) + _words(_adaptive_words(symbols, ctx, alphabet, num_contexts)))
    return min(options, key=len)


def _words(words: np.ndarray) -> bytes:
    words = np.asarray(words).astype("<u4")
    return np.uint32(words.size).astype("<u4").tobytes() + words.tobytes()


def decode_stream(
    reader, n: int, alphabet: int, contexts: np.ndarray | None = None, num_contexts: int = 1
) -> np.ndarray:
    """The ``[N]`` int32 symbols of a stream written by :func:`encode_stream`, with the same
    ``contexts``. ``reader.take(k)`` returns the next ``k`` bytes or raises; ``reader.varint()``
    the next unsigned LEB128 varint."""
    read = reader.take
    (mode,) = read(1)
    if mode == RAW:
        out = unpack_bits(read(-(-n * width(alphabet) // 8)), np.full(n, width(alphabet)))
        out = out.astype(np.int32)
    elif mode in (STATIC, ADAPTIVE, CONTEXT):
        counts = None
        if mode == STATIC:
            counts = np.asarray([reader.varint() for _ in range(alphabet)], np.float64)
            if counts.sum() != n:
                raise StreamError("a histogram does not match the Gaussian count")
        num_words = int(np.frombuffer(read(4), "<u4")[0])
        words = np.frombuffer(read(4 * num_words), "<u4").astype(np.uint32)
        if mode == STATIC:
            import constriction

            out = constriction.stream.stack.AnsCoder(words).decode(_static_model(counts), n)
        elif mode == ADAPTIVE:
            out = _adaptive_symbols(words, np.zeros(n, np.int64), alphabet, 1)
        elif contexts is None or num_contexts <= 1:
            raise StreamError("a stream coded in contexts where its contexts are unknown")
        else:
            out = _adaptive_symbols(words, np.asarray(contexts, np.int64), alphabet, num_contexts)
        out = np.asarray(out, np.int32)
    else:
        raise StreamError(f"unknown stream mode {mode}")
    if out.size and (out.min() < 0 or out.max() >= alphabet):
        raise StreamError("a symbol is outside its alphabet")
    return out


def density_contexts(cells: np.ndarray, total_cells: int) -> np.ndarray:
    """``[N]`` context ``0 … 7`` of each position: ``⌊log2 r⌋ + 4`` clipped, with ``r`` the mean
    squared distance to its 3 nearest neighbours over the mean cell area per Gaussian. The
    Gaussians' sizes follow their spacing, so the covariance streams code in these contexts.
    Exact on any machine: integer squared distances, IEEE products, ``frexp``.

    ``cells [N, 2]`` int grid cells; ``total_cells``: cells in the grid."""
    n = len(cells)
    if n <= _NEIGHBOURS:
        return np.zeros(n, np.int64)
    from scipy.spatial import cKDTree

    xy = np.asarray(cells, np.int64)
    points = xy.astype(np.float64)
    _, idx = cKDTree(points).query(points, k=_NEIGHBOURS + 1)
    # The k-th nearest distances are the same whichever of tied neighbours the tree returns;
    # the smallest is the point itself (0).
    d2 = np.sort(((xy[idx] - xy[:, None, :]) ** 2).sum(-1), 1)[:, 1:]
    ratio = d2.sum(1).astype(np.float64) * n / (float(_NEIGHBOURS) * float(total_cells))
    octave = np.frexp(ratio)[1].astype(np.int64) - 1  # ⌊log2 r⌋ for r > 0
    return np.where(ratio > 0, np.clip(octave + DENSITY_CONTEXTS // 2, 0, DENSITY_CONTEXTS - 1), 0)
