"""How moto's TransactWriteItems scale on one table with a stream: the figures quoted in
scripts/moto_server.py (`lighter_transactions`).

Usage: python scripts/moto_server.py 4599 &   then   python scripts/moto_transactions.py 4599
Prints, per 150 transactions (each a put and a counter's update; one in ten followed by a
cancelled one), their time and the emulator's resident memory.
"""

import subprocess
import sys
import time

import boto3


def main() -> None:
    port = sys.argv[1] if len(sys.argv) > 1 else "4599"
    client = boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    pid = subprocess.check_output(["pgrep", "-f", f"moto_server.py {port}"]).split()[0].decode()

    def rss_mb() -> int:
        with open(f"/proc/{pid}/status") as status:
            return int(status.read().split("VmRSS:")[1].split()[0]) // 1024

    client.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    counter = {"Update": {"TableName": "t", "Key": {"pk": {"S": "counter"}}, "UpdateExpression": "ADD c :one",
                          "ExpressionAttributeValues": {":one": {"N": "1"}}}}
    for batch in range(4):
        started = time.time()
        for i in range(150):
            pk = {"S": f"p{batch * 150 + i}"}
            client.transact_write_items(
                TransactItems=[{"Put": {"TableName": "t", "Item": {"pk": pk, "v": {"S": "x" * 500}}}}, counter]
            )
            if i % 10 == 0:
                try:
                    client.transact_write_items(TransactItems=[{"Put": {
                        "TableName": "t", "Item": {"pk": pk}, "ConditionExpression": "attribute_not_exists(pk)"}}])
                except client.exceptions.TransactionCanceledException:
                    pass
        print(f"after {(batch + 1) * 150} transactions: {time.time() - started:.1f} s for the last 150, "
              f"{rss_mb()} MB held", flush=True)


if __name__ == "__main__":
    main()
