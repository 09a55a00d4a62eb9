package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/dhtkv/dht/client"
)

// tlsFailed adds advice to the failures that come from talking to a node
// with the wrong scheme or TLS material: the operator fixes them with
// --addr, --cacert, --cert and --key, which the bare errors of crypto/tls
// and net/http do not name. Other errors, and nil, pass unchanged.
func (a *app) tlsFailed(err error) error {
	if err == nil {
		return nil
	}
	if e, ok := errors.AsType[*client.Error](err); ok {
		// Go's TLS server answers a plain HTTP request with this 400 before
		// any handler runs, so it has no JSON body and no code.
		if e.Status == http.StatusBadRequest && e.Code == "" && strings.Contains(e.Message, "HTTP request to an HTTPS server") {
			return fmt.Errorf("the node at %s serves HTTPS, not plain HTTP (%w); use --addr %s (or $%s), with --cacert FILE (or $%s) when its certificate is from the cluster's own CA",
				a.addrText(), err, a.addrWithScheme("https"), envAddr, envCACert)
		}
		return err
	}
	if errors.Is(err, http.ErrSchemeMismatch) {
		return fmt.Errorf("%w; the node serves plain HTTP: use --addr %s, or enable TLS on it (http.tls.cert_file, http.tls.key_file)", err, a.addrWithScheme("http"))
	}
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); ok {
		if a.caCert == "" {
			return fmt.Errorf("%w; pass the CA that signed the node's certificate with --cacert FILE (or $%s), such as the ca.crt of 'dhtctl certs'", err, envCACert)
		}
		return fmt.Errorf("%w; the node's certificate is not signed by the CA in --cacert %s: is that the cluster's CA?", err, a.caCert)
	}
	if he, ok := errors.AsType[x509.HostnameError](err); ok {
		return fmt.Errorf("%w; address the node by a name or IP address its certificate lists (%s), or issue it a certificate for this one ('dhtctl certs --hosts')",
			err, certHosts(he.Certificate))
	}
	if ie, ok := errors.AsType[x509.CertificateInvalidError](err); ok && ie.Reason == x509.Expired {
		return fmt.Errorf("%w; check the certificate's validity dates and this machine's clock; 'dhtctl certs --force' re-issues a node's certificate", err)
	}
	if client.IsCertificateRefused(err) {
		if a.cert == "" {
			return fmt.Errorf("%w; the node requires a client certificate: pass one signed by its client CA (http.tls.client_ca_file) with --cert and --key (or $%s, $%s)",
				err, envCert, envKey)
		}
		return fmt.Errorf("%w; the node refused the client certificate in --cert %s: is it signed by the node's client CA (http.tls.client_ca_file), for client authentication, and still valid?",
			err, a.cert)
	}
	return err
}

// addrWithScheme returns --addr with the scheme of each URL replaced, for
// advice.
func (a *app) addrWithScheme(scheme string) string {
	out := make([]string, 0, len(a.addrs))
	for _, addr := range splitAddrs(a.addrText()) {
		u, err := url.Parse(addr)
		if err != nil || u.Host == "" {
			out = append(out, scheme+"://HOST:PORT")
			continue
		}
		u.Scheme = scheme
		out = append(out, u.String())
	}
	if len(out) == 0 {
		return scheme + "://HOST:PORT"
	}
	return strings.Join(out, ",")
}

// certHosts lists the host names and IP addresses cert is valid for.
func certHosts(cert *x509.Certificate) string {
	if cert == nil {
		return "none"
	}
	hosts := append([]string(nil), cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		hosts = append(hosts, ip.String())
	}
	if len(hosts) == 0 {
		return "none"
	}
	return strings.Join(hosts, ", ")
}
