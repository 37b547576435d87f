package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/echo" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(r.URL.Query().Get("msg"))) // the client's check tells
	}))
	defer srv.Close()
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{srv.URL + "/echo?msg=prestop"}, 0, "prestop"},
		{[]string{"-s", srv.URL + "/missing"}, 0, "404 page not found\n"},
		{[]string{"-f", srv.URL + "/missing"}, 22, ""},
		{[]string{"-fsS", srv.URL + "/missing"}, 22, ""},
		{[]string{"-g", "-q", "-s", srv.URL + "/echo?msg=dial"}, 0, "dial"},
		{[]string{"-g", "-q", "-s", "--max-time", "15", "--connect-timeout", "1", srv.URL + "/echo?msg=host"}, 0, "host"},
		{[]string{"--max-time", "soon", srv.URL}, 2, ""},
		{[]string{"--connect-timeout"}, 2, ""},
		{[]string{"http://127.0.0.1:1/"}, 7, ""},
		{[]string{"-X", "POST", srv.URL}, 2, ""},
		{nil, 2, ""},
	} {
		var out, errb bytes.Buffer
		if code := run(tc.args, &out, &errb); code != tc.code || out.String() != tc.out {
			t.Errorf("curl %q: exit %d, stdout %q (stderr %q); want %d, %q", tc.args, code, out.String(), errb.String(), tc.code, tc.out)
		}
	}
}
