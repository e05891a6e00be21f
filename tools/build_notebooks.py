"""Write the five workshop notebooks (notebooks/*.ipynb) from the cells below.

The notebooks are short on purpose: the work happens in notebooks/workshop.py, which is
tested. Run `python -m tools.build_notebooks` after editing; a test fails when the
committed notebooks differ from what this writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
PARAMETERS_TAG, PROMOTE_TAG = "parameters", "promote"
RETRAINING_SWITCH_TAG = "retraining-switch"

SETUP = [
    new_code_cell("import workshop\n\nworkshop.ensure_sdk()\nsettings = workshop.load_settings()"),
]


def md(text: str):
    return new_markdown_cell(text.strip())


def code(text: str, tag: str | None = None):
    cell = new_code_cell(text.strip())
    if tag:
        cell.metadata["tags"] = [tag]
    return cell


def training_notebook(title: str, algorithm: str, about: str, parameters: str) -> list:
    return [
        md(f"# {title}\n\n{about}\n\nRun each cell with *Shift+Enter*. Everything below uses "
           "**your** bucket, role and endpoint, read from `settings.json`."),
        *SETUP,
        md("## Your hyperparameters\n\nFill in every `None` within the range in its comment. "
           "Set `INCLUDE_MY_COLLECTED_SAMPLES = True` to also train on the samples your Lab 1 "
           "pipeline collected."),
        code(parameters, PARAMETERS_TAG),
        md("## Train\n\nThis starts a SageMaker training job (a few minutes) and prints its logs."),
        code(f'result = workshop.train("{algorithm}", hyperparameters, settings,\n'
             "                        include_collected=INCLUDE_MY_COLLECTED_SAMPLES,\n"
             "                        instance_type=TRAINING_INSTANCE_TYPE)"),
        md("## How good is it?\n\nThe RMSE is the typical error of a predicted duration, in "
           "milliseconds, on the 25% of the data the model never trained on. Lower is better."),
        code('print(f"Test RMSE: {result.rmse_ms:,.1f} ms")'),
        md("## Deploy\n\nIf this is your best model, set `PROMOTE = True` and run the cell: your "
           "endpoint switches to it (about 5-10 minutes) and the FC starts scoring it."),
        code("PROMOTE = False\n\nif PROMOTE:\n    workshop.promote(result, settings)", PROMOTE_TAG),
    ]


KNN_PARAMETERS = '''
hyperparameters = {
    "predictor_type": "regressor",  # fixed: we predict a number
    "feature_dim": 12,              # fixed: the FC's 12 features
    "k": None,                      # neighbours to average: an integer from 50 to 150
    "mini_batch_size": None,        # rows per batch: an integer from 500 to 1500
    "sample_size": None,            # training rows kept: an integer from 50000 to 500000
}
INCLUDE_MY_COLLECTED_SAMPLES = False
TRAINING_INSTANCE_TYPE = "ml.m5.xlarge"
'''

LINEAR_PARAMETERS = '''
hyperparameters = {
    "predictor_type": "regressor",  # fixed: we predict a number
    "feature_dim": 12,              # fixed: the FC's 12 features
    "optimizer": None,              # "sgd" or "adam"
    "mini_batch_size": None,        # rows per batch: an integer from 500 to 1500
    "epochs": None,                 # passes over the data: an integer from 10 to 20
}
INCLUDE_MY_COLLECTED_SAMPLES = False
TRAINING_INSTANCE_TYPE = "ml.m5.xlarge"
'''

XGBOOST_PARAMETERS = '''
hyperparameters = {
    "num_round": None,              # trees to grow at most: an integer from 20 to 200
    "early_stopping_rounds": None,  # stop after this many rounds without progress: 1 to 10
    "max_depth": None,              # depth of each tree: an integer from 3 to 6
    "eta": None,                    # learning rate: a number from 0.1 to 1.0
}
INCLUDE_MY_COLLECTED_SAMPLES = False
TRAINING_INSTANCE_TYPE = "ml.m5.xlarge"
'''

DATA_ANALYSIS = [
    md("# Data analysis\n\nA first look at the FC's samples: each row is one human-robot "
       "interaction, its real `duration` in ms (what we predict) and 12 features."),
    code("import workshop\n\nsettings = workshop.load_settings()\n"
         "samples = workshop.load_sample(settings)\nprint(f\"{len(samples):,} rows loaded\")"),
    code("samples.head()"),
    md("## The features\n\nItem sizes (mm), quantity, weight (g), the bin's height above the "
       "ground, its size, and how full and cluttered it is, at one of a few FCs."),
    code("samples.describe().T"),
    md("## What goes with longer interactions?"),
    code('samples.corr()["duration"].drop("duration").sort_values()'),
    code('samples.groupby("fc_avg")["duration"].agg(["count", "mean", "std"]).round(0)'),
    code('samples.groupby("bin_location")["duration"].mean().round(0)'),
    md("## The score to beat\n\nA model that always predicts the average duration has this "
       "RMSE. Every model you train should do much better."),
    code('mean_only = ((samples["duration"] - samples["duration"].mean()) ** 2).mean() ** 0.5\n'
         'print(f"Predicting the mean: RMSE {mean_only:,.0f} ms")'),
    md("## Your own samples\n\nHow many samples your Lab 1 pipeline has delivered so far."),
    code('print(f"{workshop.collected_samples(settings):,} samples in your bucket")'),
]

AUTOMATED_RETRAINING = [
    md("# Automated retraining\n\n**Drift.** A model learns the FC as it was when its data "
       "was collected. When the FC changes (peak season: heavier items, fuller bins, busier "
       "associates), the same features mean longer durations, and a model trained before "
       "keeps predicting the old ones: its RMSE on the live traffic climbs although nothing "
       "in your code changed. Your RMSE alarm notices it."),
    md("## How the loop works\n\n1. **Trigger**: your RMSE alarm goes into ALARM, a "
       "schedule fires, or you start it here.\n"
       "2. **Train**: a SageMaker training job with the algorithm and hyperparameters of the "
       "model your endpoint serves now, on the samples your Lab 1 pipeline collected in the "
       "last *window* minutes. The most recent 20% are held out.\n"
       "3. **Judge**: the new model (candidate) and the current one are both scored on the "
       "held-out samples, which neither trained on.\n"
       "4. **Promote or keep**: the candidate replaces the current model (new endpoint "
       "configuration, `UpdateEndpoint`, no downtime) only if its RMSE is lower by at least "
       "the *margin*; otherwise nothing changes.\n\n"
       "No one waits while the job trains: SageMaker announces the job's end to EventBridge, "
       "which calls the judge. One attempt runs at a time."),
    *SETUP,
    md("## Where your loop stands\n\nOff unless you (or the organizer) turned it on."),
    code("workshop.retraining_attempts(settings)"),
    md("## Turn it on\n\nFrom now on your RMSE alarm (and the schedule, if the organizer "
       "set one) starts an attempt. `retraining_switch(settings, False)` turns it off."),
    code("workshop.retraining_switch(settings, True)", RETRAINING_SWITCH_TAG),
    md("## Margin and window\n\nA bigger **margin** promotes only clearly better models; "
       "a longer **window** gives more samples but, right after a drift, mixes in samples "
       "from before it. `include_precollected=True` adds the pre-collected set (useful only "
       "if the FC has not drifted)."),
    code("workshop.retraining_configure(settings, margin_percent=5, window_minutes=60)"),
    md("## Try it now\n\nStart one attempt by hand. The decision appears below after the "
       "job ends (a few minutes on AWS)."),
    code("attempt = workshop.retraining_start(settings)"),
    md("## Watch its decisions\n\nEach row is one attempt: both RMSEs on the held-out "
       "samples, the decision and why. Run the cell again to refresh."),
    code("workshop.retraining_attempts(settings)"),
]

LIVE_INFERENCE = [
    md("# Lab 3: your live inference URL\n\nThe FC's edge calls this URL about 5 times a "
       "second with a fresh sample's 12 features and scores every answer. Call it yourself "
       "to see what the edge sees."),
    *SETUP,
    code('print("Your URL:", settings["inference_url"])\n'
         'print("The leaderboard:", settings["leaderboard_url"])'),
    md("## One prediction\n\nA sample from the data set, its true duration next to your "
       "endpoint's answer."),
    code("sample = workshop.load_sample(settings, max_bytes=100_000).iloc[0]\n"
         "features = [float(v) for v in sample.iloc[1:]]\n"
         "status, answer = workshop.call_live_inference(settings, features)\n"
         'print(status, answer, "true duration:", sample.iloc[0], "ms")\n'
         'print("the edge scores this as:", workshop.edge_outcome(status, answer))'),
    md("## What the edge scores\n\nEvery answer falls in one class; only `ok` answers count "
       "toward your RMSE, every other class toward your error rate. Try a bad request to see "
       "one."),
    code("for outcome, meaning in workshop.EDGE_OUTCOMES.items():\n"
         '    print(f"{outcome:12} {meaning}")\n\n'
         "status, answer = workshop.call_live_inference(settings, features[:5])  # too few\n"
         "print(status, answer, workshop.edge_outcome(status, answer))"),
]

NOTEBOOKS = {
    "Data-Analysis": DATA_ANALYSIS,
    "K-Nearest-Neighbors": training_notebook(
        "k-nearest neighbours", "knn",
        "Predict a duration as the average of the `k` most similar past interactions.",
        KNN_PARAMETERS),
    "Linear-Learner": training_notebook(
        "Linear Learner", "linear-learner",
        "Predict a duration as a weighted sum of the features.", LINEAR_PARAMETERS),
    "XGBoost": training_notebook(
        "XGBoost", "xgboost",
        "Predict a duration with an ensemble of small decision trees, each correcting the "
        "previous ones.", XGBOOST_PARAMETERS),
    "Automated-Retraining": AUTOMATED_RETRAINING,
    "Live-Inference": LIVE_INFERENCE,
}


def build(name: str) -> nbformat.NotebookNode:
    notebook = new_notebook(cells=NOTEBOOKS[name])
    # The kernel a SageMaker notebook instance offers (its conda environments).
    notebook.metadata["kernelspec"] = {"name": "conda_python3", "display_name": "conda_python3",
                                       "language": "python"}
    for number, cell in enumerate(notebook.cells):
        cell["id"] = f"{name.lower()}-{number:02d}"  # stable ids: no diff on rebuild
    return notebook


def render(name: str) -> str:
    return nbformat.writes(build(name)) + "\n"


def main() -> int:
    NOTEBOOKS_DIR.mkdir(exist_ok=True)
    for name in NOTEBOOKS:
        (NOTEBOOKS_DIR / f"{name}.ipynb").write_text(render(name))
    print(f"wrote {len(NOTEBOOKS)} notebooks to {NOTEBOOKS_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
