"""An LSTM that reads only the real steps of padded batches (packed sequences)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from emotune.models.masking import lengths_from_mask

__all__ = ["MaskedLSTM"]


class MaskedLSTM(nn.Module):
    """``nn.LSTM`` (batch first) over right-padded sequences.

    Args:
        input_size: width of the inputs.
        hidden_size: units per direction.
        num_layers: stacked layers.
        bidirectional: run a backward LSTM too and concatenate.
        dropout: dropout between stacked layers (ignored for one layer).

    ``forward(x, mask)``: ``x`` float ``(B, T, input_size)``, ``mask`` bool
    ``(B, T)`` -> ``(outputs, final)``: ``outputs`` float ``(B, T, out_dim)``
    with zeros at padded steps, and ``final`` float ``(B, out_dim)``, the last
    layer's state after the last real step (forward) concatenated with its
    state after the first step (backward). ``out_dim = hidden_size * (2 if
    bidirectional else 1)``. Padded steps never influence either output.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.lstm = nn.LSTM(
            input_size,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.out_dim = hidden_size * (2 if bidirectional else 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = lengths_from_mask(mask).cpu()
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, (h_n, _) = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        dirs = 2 if self.lstm.bidirectional else 1
        final = torch.cat([h_n[-dirs + d] for d in range(dirs)], dim=-1)  # last layer's directions
        return out, final
