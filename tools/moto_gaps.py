"""What moto lacks that the sweep needs, added around its clients (tests and the rehearsal).

moto 5.2.5 completes every training job at once and has no StopTrainingJob; a sweep must
stop jobs that are still running, so `RunningJobs` lists chosen jobs InProgress until they
are stopped, and stops only those (as SageMaker refuses to stop a job that is not running).
"""

from __future__ import annotations


class RunningJobs:
    """moto's SageMaker client, with jobs in `running` listed InProgress until stopped."""

    def __init__(self, client, running: set[str] | None = None):
        self._client, self.stopped = client, []
        self.running = running if running is not None else set()

    def __getattr__(self, name):
        return getattr(self._client, name)

    def list_training_jobs(self, **kwargs):
        wanted = kwargs.pop("StatusEquals", None)  # filtered here, after the override
        page = self._client.list_training_jobs(**kwargs)
        for job in page["TrainingJobSummaries"]:
            if job["TrainingJobName"] in self.running:
                job["TrainingJobStatus"] = "InProgress"
        if wanted:
            page["TrainingJobSummaries"] = [j for j in page["TrainingJobSummaries"]
                                            if j["TrainingJobStatus"] == wanted]
        return page

    def stop_training_job(self, TrainingJobName):
        if TrainingJobName not in self.running:  # as SageMaker: only a running job stops
            raise ValueError(f"training job {TrainingJobName} is not InProgress")
        self.running.discard(TrainingJobName)
        self.stopped.append(TrainingJobName)
