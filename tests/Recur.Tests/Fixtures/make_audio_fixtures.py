"""Makes reference values for Recur's audio features.

Run with Debian's own python3 (python3-torch):  /usr/bin/python3 tests/Recur.Tests/Fixtures/make_audio_fixtures.py
The power spectrogram is torch.stft itself (periodic Hann window, centred frames, reflect padding) in float64; the mel
filterbank, log-mel and MFCC follow torchaudio's documented defaults (HTK mel scale, unnormalised triangles, log of
the mel power floored at 1e-10, orthonormal DCT-II) written out in torch, since Debian ships no torchaudio.
"""
import json
import math
import os

import torch

torch.manual_seed(3)
sr, n_fft, hop, n_mels, n_mfcc = 8000, 256, 80, 40, 13
t = torch.arange(2000, dtype=torch.float64) / sr
signal = 0.5 * torch.sin(2 * math.pi * (300 + 900 * t) * t) + 0.05 * torch.randn(2000, dtype=torch.float64)
signal = signal.float().double()  # the values Recur reads, as float32

spec = torch.stft(signal, n_fft, hop, window=torch.hann_window(n_fft, dtype=torch.float64), center=True,
                  pad_mode="reflect", return_complex=True)
power = (spec.abs() ** 2).T  # [frames, bins]


def hz_to_mel(f):
    return 2595.0 * math.log10(1.0 + f / 700.0)


n_freqs = n_fft // 2 + 1
all_freqs = torch.linspace(0, sr // 2, n_freqs, dtype=torch.float64)
m_pts = torch.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2, dtype=torch.float64)
f_pts = 700.0 * (10 ** (m_pts / 2595.0) - 1.0)
f_diff = f_pts[1:] - f_pts[:-1]
slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)
down = -slopes[:, :-2] / f_diff[:-1]
up = slopes[:, 2:] / f_diff[1:]
fb = torch.clamp(torch.min(down, up), min=0.0)  # [bins, mels]
log_mel = torch.log(torch.clamp(power @ fb, min=1e-10))
n = torch.arange(n_mels, dtype=torch.float64)
k = torch.arange(n_mfcc, dtype=torch.float64).unsqueeze(1)
dct = torch.cos(math.pi / n_mels * (n + 0.5) * k)
dct[0] *= 1.0 / math.sqrt(2.0)
dct *= math.sqrt(2.0 / n_mels)
mfcc = log_mel @ dct.T

out = {"sample_rate": sr, "n_fft": n_fft, "hop": hop, "n_mels": n_mels, "n_mfcc": n_mfcc,
       "signal": [float(v) for v in signal], "power_shape": list(power.shape),
       "power": [float(v) for v in power.reshape(-1)], "filterbank": [float(v) for v in fb.reshape(-1)],
       "log_mel": [float(v) for v in log_mel.reshape(-1)], "mfcc": [float(v) for v in mfcc.reshape(-1)]}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "audio_reference.json")
with open(path, "w") as f:
    json.dump(out, f)
print(f"wrote {path}: {power.shape[0]} frames")
