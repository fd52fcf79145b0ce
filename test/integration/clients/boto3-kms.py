"""Keyhaven's AWS dialect through boto3, Debian's python3-boto3, unchanged but for its endpoint.

Run by test/integration/aws-cli.test.ts with KEYHAVEN_URL, AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY set; prints one JSON object of what it saw, which the test checks again.
Each step asserts here too, so a failure names the step.
"""
import base64
import json
import os

import boto3
from botocore.config import Config

kms = boto3.client(
    "kms",
    endpoint_url=os.environ["KEYHAVEN_URL"],
    region_name="us-east-1",
    config=Config(retries={"max_attempts": 1}),
)
seen = {}

key = kms.create_key(Description="from boto3")["KeyMetadata"]
assert key["KeyState"] == "Enabled" and key["KeySpec"] == "SYMMETRIC_DEFAULT", key
seen["keyId"] = key["KeyId"]
seen["creationDateType"] = type(key["CreationDate"]).__name__
kms.create_alias(AliasName="alias/boto3-app", TargetKeyId=key["KeyId"])

context = {"purpose": "boto3"}
encrypted = kms.encrypt(KeyId="alias/boto3-app", Plaintext=b"hello from boto3", EncryptionContext=context)
assert encrypted["KeyId"] == key["Arn"], encrypted["KeyId"]
decrypted = kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"], EncryptionContext=context)
assert decrypted["Plaintext"] == b"hello from boto3"
try:
    kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"], EncryptionContext={"purpose": "other"})
    raise AssertionError("a wrong context decrypted")
except kms.exceptions.InvalidCiphertextException:
    seen["wrongContext"] = "InvalidCiphertextException"

data_key = kms.generate_data_key(KeyId="alias/boto3-app", KeySpec="AES_256")
assert len(data_key["Plaintext"]) == 32
assert kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]

signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
message = b"signed by boto3"
signature = kms.sign(
    KeyId=signing["KeyId"], Message=message, MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256"
)["Signature"]
verified = kms.verify(
    KeyId=signing["KeyId"],
    Message=message,
    Signature=signature,
    MessageType="RAW",
    SigningAlgorithm="ECDSA_SHA_256",
)
assert verified["SignatureValid"] is True
try:
    kms.verify(
        KeyId=signing["KeyId"],
        Message=b"another message",
        Signature=signature,
        SigningAlgorithm="ECDSA_SHA_256",
    )
    raise AssertionError("a wrong signature verified")
except kms.exceptions.KMSInvalidSignatureException:
    seen["badSignature"] = "KMSInvalidSignatureException"
seen["signingKeyId"] = signing["KeyId"]
seen["signature"] = base64.b64encode(signature).decode()

for _ in range(3):
    kms.create_key()
pages = list(kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2}))
seen["pageSizes"] = [len(page["Keys"]) for page in pages]
seen["listedKeyIds"] = [k["KeyId"] for page in pages for k in page["Keys"]]
seen["aliases"] = [a["AliasName"] for a in kms.list_aliases(KeyId=key["KeyId"])["Aliases"]]

try:
    kms.describe_key(KeyId="alias/does-not-exist")
    raise AssertionError("an unknown alias was found")
except kms.exceptions.NotFoundException:
    seen["unknownAlias"] = "NotFoundException"

print(json.dumps(seen))
