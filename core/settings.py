"""The one validated settings object. Nothing else in medsieve reads os.environ."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEDSIEVE_", env_file=".env", extra="ignore")

    # Empty database/broker URLs select the embedded default: SQLite in data_dir and an in-process worker.
    database_url: str = ""
    broker_url: str = ""
    data_dir: Path = Path(".medsieve")
    # Content-addressed input artifacts; defaults to <data_dir>/artifacts. Must be shared by API and workers.
    artifact_dir: Path | None = None
    shared_data_dir: Path = Path("../shared/data")

    max_upload_bytes: int = 2 * 1024**3
    # An upload whose body sends nothing for this long is answered 408 and its partial file removed (slowloris:
    # uvicorn itself has no request-body timeout). Waiting costs no thread, only an open connection.
    upload_idle_timeout_s: float = Field(default=60.0, gt=0)
    max_export_bytes: int = 64 * 1024**3  # an SDF export written by a worker
    max_items_per_job: int = 10_000_000
    max_record_chars: int = 100_000
    shard_size: int = 2_000
    # Ingest commits and dispatches shards in groups so processing overlaps a long ingest.
    ingest_commit_shards: int = 8

    # Hard limit must stay below RabbitMQ's consumer_timeout (30 min by default).
    task_time_limit_s: int = 1500
    task_soft_time_limit_s: int = 1440
    max_shard_attempts: int = 5
    queue_delivery_limit: int = 5
    # Retries of a task that hit a database or broker error (backoff: workers/tasks.py _backoff).
    transient_retry_max: int = 10
    sweep_interval_s: float = 15.0
    # A shard `running` this long is presumed abandoned (dead or paused worker) and published again; None = the
    # hard time limit + 60 s, after which a live worker has certainly killed it. Lower values re-run shards
    # whose worker is only slow: harmless (effects are exactly-once) but the work is done twice.
    abandoned_after_s: float | None = Field(default=None, gt=0)
    # Recycle a pool child after this many tasks, bounding slow leaks (models reload in the new child).
    worker_max_tasks_per_child: int = Field(default=1000, ge=1)
    # A queued shard not picked up in this long is published again (covers a lost publish or broker outage).
    redispatch_after_s: float = 120.0

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_url: str = ""  # client side: where the CLI finds the API
    api_token: str = ""  # client side: bearer token for the CLI
    log_level: str = "INFO"
    log_json: bool = False
    # "json": one JSON object per line with job_id/shard_id/task_id fields (MEDSIEVE_LOG_JSON=true is the same).
    log_format: str = Field(default="text", pattern="^(text|json)$")
    # Metrics read from the database and the broker at scrape time are reused for this long (scrape storms).
    metrics_cache_s: float = Field(default=5.0, ge=0)
    # A worker serves its own /metrics (GPU memory) on this port; 0 = off.
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)
    # Per-token poll limiter: sustained requests/s and burst.
    rate_limit_rps: float = 200.0
    rate_limit_burst: int = 400
    # How long an API process trusts a token it verified (0 = look it up on every request). Revocation takes
    # effect within this many seconds.
    token_cache_ttl_s: float = Field(default=5.0, ge=0)

    default_device: str = Field(default="cpu", pattern="^(cpu|gpu)$")

    # Triage. The de-identification secret keys the per-project UID/patient pseudonyms: every worker must share
    # it or series split across hosts stop linking. Empty = a random key kept in <data_dir>/deid.key (fine for
    # one host); set it (32+ random bytes, hex or text) for a multi-host deployment.
    deid_secret: SecretStr = SecretStr("")
    triage_shard_size: int = Field(default=64, ge=1)
    triage_max_file_bytes: int = Field(default=512 * 1024**2, ge=1024)
    # A model folder (manifest.json + weights); None = the shipped pneumonia-v1. Loaded by every triage worker.
    triage_model_dir: Path | None = None
    # Screening: how many top hits per job get an RDKit SVG drawing at job end (0 = none).
    screening_depict_top: int = Field(default=100, ge=0, le=10_000)

    # Literature. NCBI E-utilities: an email is expected by NCBI; with an API key the limit is 10 requests/s
    # instead of 3. The base URL is a setting so a mirror (or a recorded-response server in tests) can stand in.
    entrez_email: str = ""
    entrez_api_key: SecretStr = SecretStr("")
    entrez_tool: str = "medsieve"
    entrez_base_url: str = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
    entrez_max_tries: int = Field(default=4, ge=1, le=20)
    entrez_batch_size: int = Field(default=200, ge=1, le=10_000)
    entrez_timeout_s: float = Field(default=30.0, gt=0)
    # A NER model folder (AutoModelForTokenClassification + tokenizer); None = the shipped ner-minilm.
    literature_model_dir: Path | None = None
    literature_shard_size: int = Field(default=500, ge=1)
    # Texts above this many characters are chunked with overlap and flagged `chunked`.
    literature_max_chars: int = Field(default=20_000, ge=100)

    @property
    def json_logs(self) -> bool:
        return self.log_json or self.log_format == "json"

    @property
    def embedded(self) -> bool:
        return not self.broker_url

    @property
    def resolved_abandoned_after_s(self) -> float:
        return self.abandoned_after_s if self.abandoned_after_s is not None else self.task_time_limit_s + 60.0

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'medsieve.db').resolve()}"

    @property
    def resolved_broker_url(self) -> str:
        return self.broker_url or "memory://"

    @property
    def resolved_artifact_dir(self) -> Path:
        return (self.artifact_dir or self.data_dir / "artifacts").resolve()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Tests and the CLI change the environment and need a fresh object."""
    get_settings.cache_clear()
