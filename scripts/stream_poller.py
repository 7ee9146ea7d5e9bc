"""What an event source mapping does in AWS, for the local stack: reads the table's stream on
moto (every shard, from its oldest record) and invokes the webhook-events function under
`cargo lambda watch` with each batch, as the mapping would (`{"Records": [...]}`, only payments',
sessions' and endpoints' changes, as the template's filter). A batch the function answers with
`batchItemFailures` is sent again from the first failed record, as `ReportBatchItemFailures`
does; an invocation that fails is retried.

Usage: python scripts/stream_poller.py MOTO_URL TABLE WATCH_URL   (polls every second; Ctrl-C stops)
"""

import base64
import json
import sys
import time
import urllib.request

import boto3


def plain(value):
    """boto3's stream record, as the JSON a Lambda receives (times as epoch seconds, bytes in base64)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if hasattr(value, "timestamp"):
        return value.timestamp()
    return value


def emits_events(record):
    sk = record.get("dynamodb", {}).get("Keys", {}).get("sk", {}).get("S")
    return sk in ("PAYMENT", "SESSION", "ENDPOINTS")


def invoke(watch, records):
    body = json.dumps({"Records": records}).encode()
    request = urllib.request.Request(
        f"{watch}/2015-03-31/functions/webhook-events/invocations",
        data=body,
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read() or b"{}")


def deliver(watch, records):
    """Until the function has every record: from the first one it reported failed."""
    while records:
        try:
            answer = invoke(watch, records)
        except Exception as error:  # the function crashed or timed out: the mapping retries
            print(f"webhook-events failed ({error}); retrying", file=sys.stderr, flush=True)
            time.sleep(1)
            continue
        failed = [f["itemIdentifier"] for f in answer.get("batchItemFailures", [])]
        if not failed:
            if answer.get("recorded"):
                print(f"webhook events: {answer['recorded']} recorded", flush=True)
            return
        first = next(i for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] in failed)
        records = records[first:]
        time.sleep(1)


def main():
    moto, table, watch = sys.argv[1:4]
    aws = dict(endpoint_url=moto, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    arn = boto3.client("dynamodb", **aws).describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams", **aws)
    iterators = {}
    while True:
        for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            if shard["ShardId"] not in iterators:
                iterators[shard["ShardId"]] = streams.get_shard_iterator(
                    StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
        for shard, iterator in list(iterators.items()):
            if iterator is None:
                continue
            got = streams.get_records(ShardIterator=iterator, Limit=100)
            iterators[shard] = got.get("NextShardIterator")
            records = [plain(r) for r in got["Records"] if emits_events(r)]
            if records:
                deliver(watch, records)
        time.sleep(1)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
