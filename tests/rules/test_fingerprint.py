"""Alert fingerprints are Alertmanager's, and alert ids do not move with the severity."""

from batchgate.rules.alerts import alert_id, fingerprint


def test_the_fingerprint_is_prometheus_commons_labelset_fingerprint():
    # The vectors of prometheus/common model's TestMetricToFingerprint.
    assert fingerprint({}) == f"{14695981039346656037:016x}"
    assert fingerprint({"name": "garland, briggs", "fear": "love is not enough"}) == (
        f"{5799056148416392346:016x}"
    )


def test_the_fingerprint_does_not_depend_on_label_order():
    assert fingerprint({"a": "b", "c": "d"}) == fingerprint({"c": "d", "a": "b"})


def test_the_alert_id_is_rule_job_and_run():
    job = ("etl", (("env", "prod"),))

    assert alert_id("A", job, None) == alert_id("A", job, None)
    assert alert_id("A", job, None) != alert_id("A", job, "r1")
    assert alert_id("A", job, None) != alert_id("B", job, None)
    assert alert_id("A", job, None) != alert_id("A", ("etl", ()), None)
