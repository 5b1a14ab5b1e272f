"""Makes reference values for Recur's classical forecasters from Debian's python3-statsmodels.

Run with Debian's own python3:  /usr/bin/python3 tests/Recur.Tests/Fixtures/make_forecasting_fixtures.py
Each series is generated here (seeded numpy). For every exponential-smoothing form, statsmodels' Holt-Winters
ExponentialSmoothing is run with known parameters and initial states (the recursions compared value for value) and
also fitted by its own optimiser (the sum of squared errors Recur's fit must match or beat). The Theta method is
statsmodels' ThetaModel with the seasonality decision of the M3 Theta (Bartlett's 90% test, computed below), the
classical decomposition is seasonal_decompose, and the AR order by AIC is ar_select_order (every order fitted on the
same targets) with AutoReg's least-squares coefficients.
"""
import json
import os
import warnings

import numpy as np
from statsmodels.tsa.holtwinters import ExponentialSmoothing
from statsmodels.tsa.forecasting.theta import ThetaModel
from statsmodels.tsa.seasonal import seasonal_decompose
from statsmodels.tsa.stattools import acf
from statsmodels.tsa.ar_model import AutoReg, ar_select_order

warnings.simplefilter("ignore")
rng = np.random.default_rng(7)
m = 4
t = np.arange(40)
seasonal_shape = np.array([0.9, 1.15, 1.05, 0.9])
series = {
    # positive, trending, multiplicative quarterly seasonality
    "seasonal": (100 + 2.0 * t + rng.normal(0, 3, 40).cumsum() * 0.5) * seasonal_shape[t % m],
    # trending without season
    "trend": 50 + 1.5 * t[:30] + rng.normal(0, 2, 30),
    # a local level that wanders
    "level": 20 + rng.normal(0, 1, 36).cumsum(),
}

forms = [
    # trend, damped, seasonal
    (None, False, None), ("add", False, None), ("add", True, None),
    (None, False, "add"), ("add", False, "add"), ("add", True, "add"),
    (None, False, "mul"), ("add", False, "mul"), ("add", True, "mul"),
]
known = {"alpha": 0.35, "beta": 0.2, "gamma": 0.15, "phi": 0.9}

ets = []
for name, y in series.items():
    for trend, damped, seasonal in forms:
        if seasonal is not None and name != "seasonal":
            continue
        level0 = float(y[:m].mean())
        slope0 = float((y[m:2 * m].mean() - y[:m].mean()) / m) if trend else 0.0
        season0 = (y[:m] / y[:m].mean() if seasonal == "mul" else y[:m] - y[:m].mean()) if seasonal else []
        kwargs = dict(trend=trend, damped_trend=damped, seasonal=seasonal, seasonal_periods=m if seasonal else None)
        model = ExponentialSmoothing(y, initialization_method="known", initial_level=level0,
                                     initial_trend=slope0 if trend else None,
                                     initial_seasonal=list(season0) if seasonal else None, **kwargs)
        fit = model.fit(smoothing_level=known["alpha"], smoothing_trend=known["beta"] if trend else None,
                        smoothing_seasonal=known["gamma"] if seasonal else None,
                        damping_trend=known["phi"] if damped else None, optimized=False)
        # the damping bound Recur uses (Hyndman et al. 2008: 0.8 to 0.98; statsmodels' default reaches 0.995)
        bounds = {"damping_trend": (0.8, 0.98)} if damped else None
        optimised = ExponentialSmoothing(y, initialization_method="estimated", bounds=bounds, **kwargs).fit()
        # the forecast from the final states: statsmodels 0.13's own forecast reuses the seasonal term of the last
        # observation from before its update at horizons m, 2m, ..., so those steps are rebuilt here from the states
        phi = known["phi"] if damped else 1.0
        steps = np.arange(1, 9)
        damping = np.array([np.sum(phi ** np.arange(1, h + 1)) for h in steps]) if trend else np.zeros(8)
        trended = fit.level[-1] + damping * (fit.trend[-1] if trend else 0.0)
        if seasonal:
            last = np.asarray(fit.season)[-m:]
            from_states = trended * last[(steps - 1) % m] if seasonal == "mul" else trended + last[(steps - 1) % m]
        else:
            from_states = trended
        own = fit.forecast(8)
        agree = (steps % m != 0) if seasonal else np.ones(8, bool)
        assert np.allclose(from_states[agree], own[agree], rtol=1e-12), (name, trend, damped, seasonal)
        ets.append({
            "series": name, "trend": trend or "none", "damped": damped, "seasonal": seasonal or "none",
            "level": level0, "slope": slope0, "season": [float(v) for v in season0],
            "fitted": fit.fittedvalues.tolist(), "forecast": from_states.tolist(),
            "optimised_sse": float(optimised.sse),
            "optimised": {k: float(v) for k, v in optimised.params.items()
                          if k in ("smoothing_level", "smoothing_trend", "smoothing_seasonal", "damping_trend")
                          and v is not None and np.isfinite(v)},
        })


def bartlett_seasonal(y, period):
    """The M3 Theta's 90% test: |r_m| > 1.645 sqrt((1 + 2 sum_{k<m} r_k^2) / n), only for n > 2m."""
    if len(y) <= 2 * period:
        return False
    r = acf(y, nlags=period, fft=False)
    return bool(abs(r[period]) > 1.6448536269514722 * np.sqrt((1 + 2 * np.sum(r[1:period] ** 2)) / len(y)))


theta = []
for name, y in series.items():
    seasonal = bartlett_seasonal(y, m)
    res = ThetaModel(y, period=m, deseasonalize=seasonal, use_test=False, method="auto").fit()
    theta.append({"series": name, "seasonal": seasonal, "alpha": float(res.params["alpha"]),
                  "slope": float(res.params["b0"]), "forecast": res.forecast(8).tolist(),
                  "acf": acf(y, nlags=m, fft=False).tolist()})

decomposition = {
    "multiplicative": seasonal_decompose(series["seasonal"], model="multiplicative", period=m).seasonal[:m].tolist(),
    "additive": seasonal_decompose(series["seasonal"], model="additive", period=m).seasonal[:m].tolist(),
    "odd_period_additive": seasonal_decompose(series["seasonal"][:35], model="additive",
                                          period=5).seasonal[:5].tolist(),
}

# autoregressions of known orders (their own generator, so the series above stay as they were)
ar_rng = np.random.default_rng(11)


def simulate_ar(phi, n, intercept):
    y = np.zeros(n + 100)
    for i in range(len(phi), len(y)):
        y[i] = intercept + np.dot(phi, y[i - len(phi):i][::-1]) + ar_rng.normal()
    return y[100:]


ar_series = {
    "ar2": simulate_ar([0.6, -0.3], 300, 1.0),
    "ar5": simulate_ar([0.3, 0.0, 0.0, 0.2, 0.35], 400, 2.0),
    "seasonal": series["seasonal"],
}
ar_order = []
for name, y in ar_series.items():
    max_order = int(np.floor(10 * np.log10(len(y))))
    max_order = min(max_order, (len(y) - 2) // 2)
    selected = ar_select_order(y, max_order, ic="aic", trend="c", old_names=False)
    order = max(selected.ar_lags)
    params = AutoReg(y, order, trend="c", old_names=False).fit().params
    ar_order.append({"series": name, "values": y.tolist(), "max_order": max_order, "order": int(order),
                     "coefficients": params.tolist()})

out = {"season_length": m, "known": known, "series": {k: v.tolist() for k, v in series.items()}, "ets": ets,
       "theta": theta, "decomposition": decomposition, "ar_order": ar_order}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "forecasting_statsmodels.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", path)
