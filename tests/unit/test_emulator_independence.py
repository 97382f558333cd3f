"""The emulator is a second implementation of Green's protocol: it must not borrow the product's code,
or a bug in the product's signer, checksum or constants would pass unnoticed."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import green_emulator
from green_emulator.callbacks import callback_checksum
from green_emulator.gateway import ReceivedRequest, server_string_to_sign
from green_emulator.signing import body_md5_base64, hmac_sha1_base64, parse_query, rebuild_string_to_sign

PACKAGE = Path(green_emulator.__file__).parent
LOCAL = PACKAGE.parent

# A request the official SDK signed (aliyun-python-sdk-core 2.16.1): ImageAsyncScan with a ClientInfo
# query holding a space, '&' and '=', and an explicit nonce. Fixed Date, throwaway test keys.
SDK_QUERY = ("ClientInfo=%7B%22ip%22%3A%2210.0.0.1%22%2C%22userId%22%3A%22u+1%22%2C%22userNick%22%3A%22Mike+%26+"
             "Co%3D1%22%7D&RegionId=cn-shanghai")
SDK_HEADERS = {
    "Accept": "application/json",
    "Content-MD5": "x5BU855gDVsRKlXdUP1SuA==",
    "Content-Type": "application/json",
    "Date": "Tue, 14 Mar 2017 06:29:50 GMT",
    "x-acs-action": "ImageAsyncScan",
    "x-acs-region-id": "cn-shanghai",
    "x-acs-signature-method": "HMAC-SHA1",
    "x-acs-signature-nonce": "339497c2-d91f-4c17-a0a3-1192ee9e2202",
    "x-acs-signature-version": "1.0",
    "x-acs-version": "2018-05-09",
}
SDK_BODY = (b'{"scenes":["porn"],"bizType":"default","callback":"https://hooks.example.com/green","seed":"s33d",'
            b'"tasks":[{"dataId":"a-1","url":"https://example.com/b.gif","interval":2,"maxFrames":50}]}')
SDK_STRING_TO_SIGN = (
    "POST\napplication/json\nx5BU855gDVsRKlXdUP1SuA==\napplication/json\nTue, 14 Mar 2017 06:29:50 GMT\n"
    "x-acs-action:ImageAsyncScan\nx-acs-region-id:cn-shanghai\nx-acs-signature-method:HMAC-SHA1\n"
    "x-acs-signature-nonce:339497c2-d91f-4c17-a0a3-1192ee9e2202\nx-acs-signature-version:1.0\n"
    "x-acs-version:2018-05-09\n"
    '/green/image/asyncscan?ClientInfo={"ip":"10.0.0.1","userId":"u 1","userNick":"Mike & Co=1"}&RegionId=cn-shanghai')


def test_no_module_of_the_emulator_imports_greenlight() -> None:
    offenders = []
    for source in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{source.name}: {name}" for name in names if name.split(".")[0] == "greenlight"]

    assert offenders == []


def test_the_emulator_imports_and_serves_without_the_layer_on_the_path() -> None:
    script = (
        "import importlib, pkgutil, sys\n"
        "import green_emulator\n"
        "for module in pkgutil.iter_modules(green_emulator.__path__):\n"
        "    importlib.import_module('green_emulator.' + module.name)\n"
        "from green_emulator import EmulatorConfig, start_emulator\n"
        "start_emulator(EmulatorConfig(port=0)).stop()\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'greenlight'))\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("GREEN_EMULATOR_")}
    env["PYTHONPATH"] = str(LOCAL)  # local/ only: layers/greenlight is not importable

    finished = subprocess.run([sys.executable, "-c", script], cwd=LOCAL, env=env, capture_output=True, text=True,
                              timeout=60, check=False)

    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "[]"


def test_own_signing_reproduces_an_sdk_signed_request() -> None:
    received = ReceivedRequest("POST", "/green/image/asyncscan", SDK_QUERY, SDK_HEADERS, SDK_BODY)

    assert server_string_to_sign(received) == SDK_STRING_TO_SIGN
    assert hmac_sha1_base64("testAccessKeySecret", SDK_STRING_TO_SIGN) == "FDse9RA/1mVvvKtKEC+niZz8u60="
    assert body_md5_base64(SDK_BODY) == SDK_HEADERS["Content-MD5"]


def test_own_string_to_sign_layout_edge_cases() -> None:
    # Absent standard headers still give empty lines; names are lower-cased and sorted, values kept
    # verbatim; a bare query name is written alone, an empty value as "name=".
    headers = {"X-Acs-Version": "2018-05-09", "x-acs-action": " padded ", "Date": "D", "User-Agent": "unsigned"}

    text = rebuild_string_to_sign("POST", "/green/image/results", "b&a=&c=x+y", headers)

    assert text == "POST\n\n\n\nD\nx-acs-action: padded \nx-acs-version:2018-05-09\n/green/image/results?a=&b&c=x y"
    assert parse_query("k=%2B+%26") == [("k", "+ &")]


def test_own_callback_checksum_matches_the_protocol_vector() -> None:
    content = ('{"code":200,"msg":"OK","dataId":"a-1","taskId":"img3Fq0xTQYGhJHyxvMCpfYSk-1tYvVS",'
               '"url":"https://example.com/b.gif","results":[{"scene":"porn","label":"normal","suggestion":"pass",'
               '"rate":99.9}]}')

    assert callback_checksum("1234567890123456", "s33d", content) == (
        "e584f624976a9169e6990e8f794958b1d974c90603f687efa61db563b89846ec")
