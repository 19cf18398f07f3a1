// Batched UDP for the DNS listener: one recvmmsg per readiness event fills preallocated slots that
// JavaScript reads in place, and the replies written during that batch leave in one sendmmsg.
// Node's dgram costs a Buffer, an rinfo object, a send request and a system call per datagram,
// which is most of a cache hit's CPU; here a batch costs one call into JavaScript and two system
// calls. Node-API only (ABI-stable across Node versions); the socket is polled on Node's own loop.

#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define MAX_SLOTS 64
// Batches read per readiness event before the loop gets a turn (level-triggered: the rest wait).
#define MAX_ROUNDS 4
#define SEND_SLOT_BYTES 4096
#define META_INTS 8
// Replies that met a full send buffer wait here (copied) until the socket is writable again.
#define MAX_PENDING_BYTES (4u << 20)

typedef struct pending_send {
  struct pending_send *next;
  struct sockaddr_storage addr;
  socklen_t addrlen;
  size_t len;
  uint8_t data[];
} pending_send;

typedef struct {
  napi_env env;
  int fd;
  int family;
  int closed;
  /** The poll handle's close callback ran / the JS handle was finalized: free once both are true. */
  int handle_closed;
  int finalized;
  /** Reading stopped on request (the wedged-socket test hook): the kernel queue fills. */
  int paused;
  uv_poll_t poll;
  int poll_events;
  napi_ref on_batch;
  napi_ref recv_ref;
  napi_ref meta_ref;
  napi_async_context async_context;
  uint8_t *recv;
  size_t slot_bytes;
  uint32_t slots;
  int32_t *meta;
  /** Slots of the batch being handed to JavaScript; 0 outside a batch. */
  uint32_t batch;
  struct sockaddr_storage raddr[MAX_SLOTS];
  struct iovec riov[MAX_SLOTS];
  struct mmsghdr rmsg[MAX_SLOTS];
  uint8_t *sendbuf;
  uint32_t nsend;
  struct iovec siov[MAX_SLOTS];
  struct mmsghdr smsg[MAX_SLOTS];
  struct sockaddr_storage saddr[MAX_SLOTS];
  pending_send *pending_head;
  pending_send *pending_tail;
  size_t pending_bytes;
  uint32_t pending_count;
} udp_socket;

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *detail) {
  char message[256];
  const char *name = uv_err_name(-err);
  if (detail != NULL)
    snprintf(message, sizeof message, "%s %s %s", syscall, name, detail);
  else
    snprintf(message, sizeof message, "%s %s", syscall, name);
  napi_value msg, code, error, errno_value, syscall_value;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &error);
  napi_create_int32(env, -err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}

/** Parse an IP literal into a socket address of the socket's family (IPv4 on an IPv6 socket is mapped). */
static int to_sockaddr(int family, const char *ip, int port, struct sockaddr_storage *out, socklen_t *len) {
  memset(out, 0, sizeof *out);
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)out;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, ip, &a->sin_addr) != 1) return -1;
    *len = sizeof *a;
    return 0;
  }
  struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
  a->sin6_family = AF_INET6;
  a->sin6_port = htons((uint16_t)port);
  if (inet_pton(AF_INET6, ip, &a->sin6_addr) != 1) {
    struct in_addr v4;
    if (inet_pton(AF_INET, ip, &v4) != 1) return -1;
    a->sin6_addr.s6_addr[10] = 0xff;
    a->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&a->sin6_addr.s6_addr[12], &v4, 4);
  }
  *len = sizeof *a;
  return 0;
}

static void set_poll(udp_socket *s);

static int queue_pending(udp_socket *s, const void *data, size_t len, const struct sockaddr_storage *addr,
                         socklen_t addrlen) {
  if (s->pending_bytes + len > MAX_PENDING_BYTES) {
    return -1;
  }
  pending_send *p = malloc(sizeof *p + len);
  if (p == NULL) {
    return -1;
  }
  p->next = NULL;
  memcpy(&p->addr, addr, addrlen);
  p->addrlen = addrlen;
  p->len = len;
  memcpy(p->data, data, len);
  if (s->pending_tail != NULL)
    s->pending_tail->next = p;
  else
    s->pending_head = p;
  s->pending_tail = p;
  s->pending_bytes += len;
  s->pending_count++;
  set_poll(s);
  return 0;
}

static int would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS; }

/** One datagram now; a full send buffer queues it (or anything queued before it keeps order). */
static void send_one(udp_socket *s, const void *data, size_t len, const struct sockaddr_storage *addr,
                     socklen_t addrlen) {
  if (s->pending_head == NULL) {
    for (;;) {
      ssize_t n = sendto(s->fd, data, len, MSG_DONTWAIT, (const struct sockaddr *)addr, addrlen);
      if (n >= 0) return;
      if (errno == EINTR) continue;
      if (!would_block(errno)) return;  // unreachable client and the like: the reply is lost, as with dgram
      break;
    }
  }
  queue_pending(s, data, len, addr, addrlen);
}

static void flush_pending(udp_socket *s) {
  while (s->pending_head != NULL) {
    pending_send *p = s->pending_head;
    ssize_t n = sendto(s->fd, p->data, p->len, MSG_DONTWAIT, (struct sockaddr *)&p->addr, p->addrlen);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && would_block(errno)) break;
    s->pending_head = p->next;
    if (s->pending_head == NULL) s->pending_tail = NULL;
    s->pending_bytes -= p->len;
    s->pending_count--;
    free(p);
  }
  set_poll(s);
}

/** The replies of a batch in one system call; whatever the send buffer refuses waits in the queue. */
static void flush_batch(udp_socket *s) {
  uint32_t done = 0;
  while (done < s->nsend) {
    if (s->pending_head != NULL) break;
    int n = sendmmsg(s->fd, &s->smsg[done], s->nsend - done, MSG_DONTWAIT);
    if (n > 0) {
      done += (uint32_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && would_block(errno)) break;
    done++;  // this one failed for its own reason (an unroutable client): skip it
  }
  for (; done < s->nsend; done++)
    queue_pending(s, s->siov[done].iov_base, s->siov[done].iov_len, &s->saddr[done], s->smsg[done].msg_hdr.msg_namelen);
  s->nsend = 0;
}

static void call_batch(udp_socket *s, uint32_t count) {
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, receiver, argv[1], result;
  napi_get_reference_value(env, s->on_batch, &callback);
  napi_get_global(env, &receiver);
  napi_create_uint32(env, count, &argv[0]);
  s->batch = count;
  napi_status status = napi_make_callback(env, s->async_context, receiver, callback, 1, argv, &result);
  s->batch = 0;
  if (!s->closed) flush_batch(s);
  if (status == napi_pending_exception) {
    // Our handler catches per-query failures; anything else is a bug and must surface as dgram's would.
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
  napi_close_handle_scope(env, scope);
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  udp_socket *s = handle->data;
  if (s->closed) return;
  if (status < 0) return;
  if (events & UV_WRITABLE) flush_pending(s);
  if (!(events & UV_READABLE) || s->paused) return;
  for (int round = 0; round < MAX_ROUNDS && !s->closed; round++) {
    for (uint32_t i = 0; i < s->slots; i++) {
      s->rmsg[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
      s->rmsg[i].msg_hdr.msg_flags = 0;
    }
    int n = recvmmsg(s->fd, s->rmsg, s->slots, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      continue;  // an ICMP error reported on the socket (e.g. ECONNREFUSED): the next datagram is fine
    }
    if (n == 0) return;
    for (int i = 0; i < n; i++) {
      int32_t *m = &s->meta[i * META_INTS];
      struct msghdr *h = &s->rmsg[i].msg_hdr;
      m[0] = (int32_t)s->rmsg[i].msg_len;
      m[3] = (h->msg_flags & MSG_TRUNC) ? 1 : 0;
      if (s->raddr[i].ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&s->raddr[i];
        m[1] = ntohs(a->sin_port);
        m[2] = 4;
        m[4] = (int32_t)ntohl(a->sin_addr.s_addr);
      } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&s->raddr[i];
        m[1] = ntohs(a->sin6_port);
        m[2] = 6;
        memcpy(&m[4], &a->sin6_addr, 16);
      }
    }
    call_batch(s, (uint32_t)n);
    if ((uint32_t)n < s->slots) return;
  }
}

static void set_poll(udp_socket *s) {
  if (s->closed) return;
  int events = (s->paused ? 0 : UV_READABLE) | (s->pending_head != NULL ? UV_WRITABLE : 0);
  if (events == s->poll_events) return;
  s->poll_events = events;
  if (events == 0)
    uv_poll_stop(&s->poll);
  else
    uv_poll_start(&s->poll, events, on_poll);
}

static void on_handle_closed(uv_handle_t *handle) {
  udp_socket *s = handle->data;
  s->handle_closed = 1;
  if (s->finalized) free(s);
}

static void close_socket(udp_socket *s) {
  if (s->closed) return;
  flush_pending(s);
  s->closed = 1;
  // The handle must go before the descriptor: closing a handle later would take a reused descriptor
  // number (another socket's) out of the loop's epoll set.
  uv_close((uv_handle_t *)&s->poll, on_handle_closed);
  close(s->fd);
  while (s->pending_head != NULL) {
    pending_send *p = s->pending_head;
    s->pending_head = p->next;
    free(p);
  }
  s->pending_tail = NULL;
  s->pending_bytes = 0;
  s->pending_count = 0;
  // The callback may be running (a close from inside a batch): only drop our hold on it, so the
  // listener it closes over can be collected; the rest goes with the finalizer.
  napi_reference_unref(s->env, s->on_batch, NULL);
  napi_reference_unref(s->env, s->recv_ref, NULL);
  napi_reference_unref(s->env, s->meta_ref, NULL);
}

static void finalize_socket(napi_env env, void *data, void *hint) {
  (void)hint;
  udp_socket *s = data;
  close_socket(s);
  free(s->sendbuf);
  s->sendbuf = NULL;
  napi_delete_reference(env, s->on_batch);
  napi_delete_reference(env, s->recv_ref);
  napi_delete_reference(env, s->meta_ref);
  napi_async_destroy(env, s->async_context);
  s->finalized = 1;
  if (s->handle_closed) free(s);
}

static udp_socket *socket_arg(napi_env env, napi_value value) {
  void *data = NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok || data == NULL) return NULL;
  return data;
}

/** A binding's arguments (those not passed are undefined), the socket in the first; returns how many were passed. */
static size_t socket_args(napi_env env, napi_callback_info info, size_t count, napi_value *argv, udp_socket **s) {
  size_t argc = count;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  *s = socket_arg(env, argv[0]);
  return argc;
}

static int string_arg(napi_env env, napi_value value, char *out, size_t size) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, out, size, &len) != napi_ok) return -1;
  return len + 1 < size ? 0 : -1;
}

// open(host, port, reusePort, recvBufferBytes, sendBufferBytes, recv: Buffer, meta: Int32Array, onBatch)
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 8) return throw_type(env, "open: 8 arguments expected");
  char host[INET6_ADDRSTRLEN + 1];
  int32_t port, reuse_port, rcvbuf, sndbuf;
  if (string_arg(env, argv[0], host, sizeof host) != 0) return throw_type(env, "open: host must be an IP literal");
  napi_get_value_int32(env, argv[1], &port);
  napi_get_value_int32(env, argv[2], &reuse_port);
  napi_get_value_int32(env, argv[3], &rcvbuf);
  napi_get_value_int32(env, argv[4], &sndbuf);
  void *recv = NULL;
  size_t recv_len = 0;
  if (napi_get_buffer_info(env, argv[5], &recv, &recv_len) != napi_ok) return throw_type(env, "open: recv must be a Buffer");
  napi_typedarray_type meta_type;
  size_t meta_len = 0;
  void *meta = NULL;
  if (napi_get_typedarray_info(env, argv[6], &meta_type, &meta_len, &meta, NULL, NULL) != napi_ok ||
      meta_type != napi_int32_array)
    return throw_type(env, "open: meta must be an Int32Array");
  napi_valuetype callback_type;
  napi_typeof(env, argv[7], &callback_type);
  if (callback_type != napi_function) return throw_type(env, "open: onBatch must be a function");
  uint32_t slots = (uint32_t)(meta_len / META_INTS);
  if (slots == 0 || slots > MAX_SLOTS || recv_len % slots != 0 || recv_len / slots < 512)
    return throw_type(env, "open: recv and meta must describe 1..64 slots of at least 512 bytes");

  int family = strchr(host, ':') != NULL ? AF_INET6 : AF_INET;
  struct sockaddr_storage addr;
  socklen_t addrlen;
  char detail[INET6_ADDRSTRLEN + 16];
  snprintf(detail, sizeof detail, "%s:%d", host, port);
  if (to_sockaddr(family, host, port, &addr, &addrlen) != 0) return throw_type(env, "open: host must be an IP literal");
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", NULL);
  int one = 1, zero = 0;
  if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "setsockopt", "SO_REUSEPORT");
  }
  if (bind(fd, (struct sockaddr *)&addr, addrlen) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind", detail);
  }
  // The kernel caps both at net.core.[rw]mem_max; a refusal keeps its default, as dgram's callers do.
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (sndbuf > 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

  udp_socket *s = calloc(1, sizeof *s);
  uint8_t *sendbuf = malloc((size_t)MAX_SLOTS * SEND_SLOT_BYTES);
  if (s == NULL || sendbuf == NULL) {
    free(s);
    free(sendbuf);
    close(fd);
    return throw_errno(env, ENOMEM, "open", NULL);
  }
  s->env = env;
  s->fd = fd;
  s->family = family;
  s->recv = recv;
  s->slots = slots;
  s->slot_bytes = recv_len / slots;
  s->meta = meta;
  s->sendbuf = sendbuf;
  for (uint32_t i = 0; i < MAX_SLOTS; i++) {
    s->riov[i].iov_base = s->recv + (i < slots ? i : 0) * s->slot_bytes;
    s->riov[i].iov_len = s->slot_bytes;
    s->rmsg[i].msg_hdr.msg_name = &s->raddr[i];
    s->rmsg[i].msg_hdr.msg_iov = &s->riov[i];
    s->rmsg[i].msg_hdr.msg_iovlen = 1;
    s->siov[i].iov_base = s->sendbuf + (size_t)i * SEND_SLOT_BYTES;
    s->smsg[i].msg_hdr.msg_name = &s->saddr[i];
    s->smsg[i].msg_hdr.msg_iov = &s->siov[i];
    s->smsg[i].msg_hdr.msg_iovlen = 1;
  }
  napi_create_reference(env, argv[7], 1, &s->on_batch);
  napi_create_reference(env, argv[5], 1, &s->recv_ref);
  napi_create_reference(env, argv[6], 1, &s->meta_ref);
  napi_value resource_name;
  napi_create_string_utf8(env, "UDPBATCH", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, NULL, resource_name, &s->async_context);
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  uv_poll_init(loop, &s->poll, fd);
  s->poll.data = s;
  set_poll(s);
  napi_value external;
  napi_create_external(env, s, finalize_socket, NULL, &external);
  return external;
}

// send(socket, reply: Buffer, length, slot): to the sender of `slot` of the batch being handled.
static napi_value js_send(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  udp_socket *s;
  socket_args(env, info, 4, argv, &s);
  if (s == NULL || s->closed) return NULL;
  void *data;
  size_t size;
  uint32_t len, slot;
  if (napi_get_buffer_info(env, argv[1], &data, &size) != napi_ok) return throw_type(env, "send: reply must be a Buffer");
  napi_get_value_uint32(env, argv[2], &len);
  napi_get_value_uint32(env, argv[3], &slot);
  if (len > size) len = (uint32_t)size;
  if (slot >= s->batch) return throw_type(env, "send: slot is not part of the batch being handled");
  socklen_t addrlen = s->raddr[slot].ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  if (len > SEND_SLOT_BYTES || s->nsend == MAX_SLOTS) {
    send_one(s, data, len, &s->raddr[slot], addrlen);
    return NULL;
  }
  uint32_t i = s->nsend++;
  memcpy(s->siov[i].iov_base, data, len);
  s->siov[i].iov_len = len;
  memcpy(&s->saddr[i], &s->raddr[slot], addrlen);
  s->smsg[i].msg_hdr.msg_namelen = addrlen;
  return NULL;
}

// sendTo(socket, reply: Buffer, length, port, address): now, or queued (copied) if the buffer is full.
static napi_value js_send_to(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  udp_socket *s;
  socket_args(env, info, 5, argv, &s);
  if (s == NULL || s->closed) return NULL;
  void *data;
  size_t size;
  uint32_t len;
  int32_t port;
  char ip[INET6_ADDRSTRLEN + 1];
  if (napi_get_buffer_info(env, argv[1], &data, &size) != napi_ok) return throw_type(env, "sendTo: reply must be a Buffer");
  napi_get_value_uint32(env, argv[2], &len);
  napi_get_value_int32(env, argv[3], &port);
  if (string_arg(env, argv[4], ip, sizeof ip) != 0) return throw_type(env, "sendTo: address must be an IP literal");
  if (len > size) len = (uint32_t)size;
  struct sockaddr_storage addr;
  socklen_t addrlen;
  if (to_sockaddr(s->family, ip, port, &addr, &addrlen) != 0) return throw_type(env, "sendTo: address must be an IP literal");
  send_one(s, data, len, &addr, addrlen);
  return NULL;
}

// address(socket, slot): the sender of `slot` as text (inet_ntop), for IPv6 senders.
static napi_value js_address(napi_env env, napi_callback_info info) {
  napi_value argv[2], out;
  udp_socket *s;
  socket_args(env, info, 2, argv, &s);
  uint32_t slot;
  napi_get_value_uint32(env, argv[1], &slot);
  if (s == NULL || slot >= s->batch) return throw_type(env, "address: slot is not part of the batch being handled");
  char text[INET6_ADDRSTRLEN];
  if (s->raddr[slot].ss_family == AF_INET)
    inet_ntop(AF_INET, &((struct sockaddr_in *)&s->raddr[slot])->sin_addr, text, sizeof text);
  else
    inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&s->raddr[slot])->sin6_addr, text, sizeof text);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &out);
  return out;
}

// connect(socket, address, port) / connect(socket): associate with a peer, or dissolve it (AF_UNSPEC).
static napi_value js_connect(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  udp_socket *s;
  size_t argc = socket_args(env, info, 3, argv, &s);
  if (s == NULL || s->closed) return throw_errno(env, EBADF, "connect", NULL);
  struct sockaddr_storage addr;
  socklen_t addrlen;
  if (argc < 3) {
    memset(&addr, 0, sizeof addr);
    addr.ss_family = AF_UNSPEC;
    addrlen = sizeof addr;
    if (connect(s->fd, (struct sockaddr *)&addr, addrlen) != 0 && errno != EAFNOSUPPORT)
      return throw_errno(env, errno, "disconnect", NULL);
    return NULL;
  }
  char ip[INET6_ADDRSTRLEN + 1];
  int32_t port;
  if (string_arg(env, argv[1], ip, sizeof ip) != 0) return throw_type(env, "connect: address must be an IP literal");
  napi_get_value_int32(env, argv[2], &port);
  if (to_sockaddr(s->family, ip, port, &addr, &addrlen) != 0) return throw_type(env, "connect: address must be an IP literal");
  if (connect(s->fd, (struct sockaddr *)&addr, addrlen) != 0) return throw_errno(env, errno, "connect", ip);
  return NULL;
}

// queued(socket): replies waiting for the send buffer (copied; they hold no caller memory).
static napi_value js_queued(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  udp_socket *s;
  socket_args(env, info, 1, argv, &s);
  napi_create_uint32(env, s == NULL ? 0 : s->pending_count, &out);
  return out;
}

// reading(socket, on): stop or resume taking datagrams off the socket.
static napi_value js_reading(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  bool on = true;
  udp_socket *s;
  socket_args(env, info, 2, argv, &s);
  napi_get_value_bool(env, argv[1], &on);
  if (s != NULL && !s->closed) {
    s->paused = on ? 0 : 1;
    set_poll(s);
  }
  return NULL;
}

// close(socket): replies still queued get one last try; nothing is read after this.
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  udp_socket *s;
  socket_args(env, info, 1, argv, &s);
  if (s != NULL) close_socket(s);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
      {"sendTo", NULL, js_send_to, NULL, NULL, NULL, napi_default, NULL},
      {"address", NULL, js_address, NULL, NULL, NULL, napi_default, NULL},
      {"connect", NULL, js_connect, NULL, NULL, NULL, napi_default, NULL},
      {"queued", NULL, js_queued, NULL, NULL, NULL, napi_default, NULL},
      {"reading", NULL, js_reading, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  napi_value slots, meta_ints;
  napi_create_uint32(env, MAX_SLOTS, &slots);
  napi_create_uint32(env, META_INTS, &meta_ints);
  napi_set_named_property(env, exports, "maxSlots", slots);
  napi_set_named_property(env, exports, "metaInts", meta_ints);
  return exports;
}
