#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# cdp.py: drive headless Chromium through the DevTools protocol over a pipe
# (--remote-debugging-pipe: JSON messages ending in NUL on fds 3 and 4), for
# the dashboard scenario (t0720). --dump-dom cannot be used there: an open
# EventSource keeps a fetch pending, and virtual time then never ends.
#
#   cdp.py [--timeout S] URL STEP...
#     wait:EXPR   evaluate EXPR every 0.2 s until it is true (fail at the timeout)
#     eval:EXPR   evaluate EXPR and print its value (JSON) on one line
#     shot:PATH   a PNG screenshot of the page into PATH
#     sh:CMD      run CMD with /bin/sh (must succeed)
# Exit 0 when every step succeeded; 1 with one line on stderr otherwise.
# The browser gets a fresh profile in a temp dir and is killed at the end.
import base64, json, os, select, shutil, subprocess, sys, tempfile, time


class Browser:
    def __init__(self, timeout_s):
        self.timeout_s = timeout_s
        self.profile = tempfile.mkdtemp(prefix='mts-chromium.')
        cmd_r, self.cmd_w = os.pipe()   # ours -> chromium's fd 3
        self.ev_r, ev_w = os.pipe()     # chromium's fd 4 -> ours

        def fds():
            a, b = os.dup(cmd_r), os.dup(ev_w)
            os.dup2(a, 3)
            os.dup2(b, 4)
        self.proc = subprocess.Popen(
            ['chromium', '--headless=new', '--no-sandbox', '--disable-gpu', '--remote-debugging-pipe',
             '--user-data-dir=' + self.profile, '--window-size=1280,1400', '--no-first-run',
             '--hide-scrollbars', 'about:blank'],
            preexec_fn=fds, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(cmd_r)
        os.close(ev_w)
        self.buf = b''
        self.next_id = 0
        self.session = None

    def close(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def call(self, method, params=None, session=True):
        self.next_id += 1
        m = {'id': self.next_id, 'method': method, 'params': params or {}}
        if session and self.session:
            m['sessionId'] = self.session
        os.write(self.cmd_w, json.dumps(m).encode() + b'\0')
        deadline = time.monotonic() + self.timeout_s
        while True:
            while b'\0' in self.buf:
                raw, self.buf = self.buf.split(b'\0', 1)
                r = json.loads(raw)
                if r.get('id') == self.next_id:
                    if 'error' in r:
                        raise RuntimeError('%s: %s' % (method, r['error'].get('message')))
                    return r.get('result', {})
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.ev_r], [], [], left)[0]:
                raise RuntimeError('%s: no answer from chromium in %ss' % (method, self.timeout_s))
            chunk = os.read(self.ev_r, 1 << 20)
            if not chunk:
                raise RuntimeError('chromium exited')
            self.buf += chunk

    def open(self, url):
        t = self.call('Target.createTarget', {'url': 'about:blank'}, session=False)
        a = self.call('Target.attachToTarget', {'targetId': t['targetId'], 'flatten': True}, session=False)
        self.session = a['sessionId']
        self.call('Page.enable')
        self.call('Page.navigate', {'url': url})

    def eval(self, expr):
        r = self.call('Runtime.evaluate', {'expression': expr, 'returnByValue': True, 'awaitPromise': True})
        if 'exceptionDetails' in r:
            raise RuntimeError('%s: %s' % (expr, r['exceptionDetails'].get('text')))
        return r['result'].get('value')


def main():
    args = sys.argv[1:]
    timeout_s = 20.0
    if args[:1] == ['--timeout']:
        timeout_s = float(args[1])
        args = args[2:]
    if len(args) < 2:
        sys.exit('usage: cdp.py [--timeout S] URL STEP...')
    b = Browser(timeout_s)
    try:
        b.open(args[0])
        for step in args[1:]:
            kind, _, arg = step.partition(':')
            if kind == 'wait':
                deadline = time.monotonic() + timeout_s
                while True:
                    try:
                        if b.eval(arg):
                            break
                    except RuntimeError:
                        pass  # the page is still loading
                    if time.monotonic() > deadline:
                        raise RuntimeError('timed out after %ss waiting for: %s' % (timeout_s, arg))
                    time.sleep(0.2)
            elif kind == 'eval':
                print(json.dumps(b.eval(arg)), flush=True)
            elif kind == 'shot':
                png = b.call('Page.captureScreenshot', {'format': 'png', 'captureBeyondViewport': True})
                with open(arg, 'wb') as f:
                    f.write(base64.b64decode(png['data']))
            elif kind == 'sh':
                subprocess.run(arg, shell=True, check=True, stdout=sys.stderr)
            else:
                raise RuntimeError('unknown step %r (wait:, eval:, shot:, sh:)' % step)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
        print('cdp.py: %s' % e, file=sys.stderr)
        return 1
    finally:
        b.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
