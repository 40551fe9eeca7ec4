"""A real SMTP server for stabmon's mail tests (aiosmtpd), on 127.0.0.1 only.

    smtp_server.py starttls|smtps CERT KEY OUTDIR   serve until stdin closes; prints "READY PORT" once listening
    smtp_server.py parse FILE.eml                     print the JSON summary of a message

Every message received is parsed by Python's email package and written to OUTDIR as N.json: the MIME tree, the
header names, the decoded subject, the HTML and text bodies, the inline images by Content-ID (base64) and the
attachments, with the envelope's sender and recipients and the login used.
"""
import base64
import email
import email.policy
import json
import os
import socket
import ssl
import sys


def tree(part):
    if part.is_multipart():
        return [part.get_content_type(), [tree(p) for p in part.iter_parts()]]
    return part.get_content_type()


def summary(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    out = {
        "tree": tree(msg),
        "headers": [k for k in msg.keys()],
        "subject": str(msg["subject"]),
        "raw_subject_lines": [l for l in raw.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace").split("\r\n")
                              if l.lower().startswith("subject:")],
        "size": len(raw),
        "html": None,
        "text": None,
        "images": {},
        "attachments": [],
    }
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disp = part.get_content_disposition()
        if ctype == "text/html" and disp != "attachment":
            out["html"] = part.get_content()
        elif ctype == "text/plain" and disp != "attachment":
            out["text"] = part.get_content()
        elif ctype == "image/png":
            cid = (part["content-id"] or "").strip().strip("<>")
            out["images"][cid] = base64.b64encode(part.get_content()).decode()
        elif disp == "attachment":
            body = part.get_content()
            out["attachments"].append({
                "filename": part.get_filename(),
                "type": ctype,
                "size": len(body),
                "head": body[:200] if isinstance(body, str) else "",
            })
    return out


def serve(mode, cert, key, outdir):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    count = [0]

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            s = summary(envelope.original_content or envelope.content)
            s["mail_from"] = envelope.mail_from
            s["rcpt_tos"] = envelope.rcpt_tos
            s["login"] = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
            count[0] += 1
            with open(os.path.join(outdir, "%d.json.tmp" % count[0]), "w") as f:
                json.dump(s, f)
            os.rename(os.path.join(outdir, "%d.json.tmp" % count[0]), os.path.join(outdir, "%d.json" % count[0]))
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"stabmon" and auth_data.password == b"s3cret"
        return AuthResult(success=ok, auth_data=auth_data)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    common = dict(hostname="127.0.0.1", port=port, authenticator=authenticator, auth_required=True)
    if mode == "starttls":
        c = Controller(Handler(), tls_context=ctx, require_starttls=True, **common)
    else:
        c = Controller(Handler(), ssl_context=ctx, auth_require_tls=False, **common)
    c.start()
    print("READY %d" % port, flush=True)
    sys.stdin.read()
    c.stop()


if __name__ == "__main__":
    if sys.argv[1] == "parse":
        with open(sys.argv[2], "rb") as f:
            print(json.dumps(summary(f.read())))
    else:
        serve(*sys.argv[1:5])
