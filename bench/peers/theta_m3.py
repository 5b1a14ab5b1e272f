"""statsmodels' Theta method on the M3 quarterly series, scored as `recur forecast train --series-column` scores it:
the last 8 values of every series held out, sMAPE 200·|F − A| / (|A| + |F|) averaged over every series and step.

An independent check of Recur's metric and protocol (docs/forecasting.md). Run with Debian's python3-statsmodels:
    /usr/bin/python3 bench/peers/theta_m3.py [../shared/data/m3/M3_quarterly_TSTS.csv]
"""
import collections
import csv
import sys
import warnings

import numpy as np
from statsmodels.tsa.forecasting.theta import ThetaModel

HORIZON, PERIOD = 8, 4


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/m3/M3_quarterly_TSTS.csv"
    series = collections.OrderedDict()
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            series.setdefault(row["series_id"], []).append(float(row["value"]))
    errors, seasonal = [], 0
    warnings.filterwarnings("ignore")
    for values in series.values():
        y = np.array(values)
        train, test = y[:-HORIZON], y[-HORIZON:]
        model = ThetaModel(train, period=PERIOD)
        forecast = np.asarray(model.fit().forecast(HORIZON))
        seasonal += bool(model._has_seasonality)
        errors.extend(200 * np.abs(forecast - test) / (np.abs(test) + np.abs(forecast)))
    print(f"{len(series)} series, {seasonal} found seasonal, Theta sMAPE {np.mean(errors):.3f}")


if __name__ == "__main__":
    main()
