// The splice relay's per-pair state and the byte pump (relay thread only): socket → pipe → socket per
// direction with splice(2), the pipe taken from the PipePool only while bytes are in it (pipe_pool.h).
//
// The sockets are Node's own fds, not dups (issue 17 item 1: an idle connection holds two fds). That is safe
// because JS never lets Node close a handed-over socket before the relay reported the pair finished
// (src/splice.linux.ts defers the socket's _destroy until then), and the relay never touches a pair's fds
// after Finish (its epoll registration is removed there).

#pragma once

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

#include "pipe_pool.h"

namespace ztun {

// One direction: from → pipe → to.
struct Direction {
  int from = -1;
  int to = -1;
  Pipe pipe;              // open only while bytes are in it (or for the length of one pump round)
  size_t inPipe = 0;
  bool eof = false;       // `from` returned 0 (peer sent FIN)
  bool shutDown = false;  // FIN passed on: shutdown(to, SHUT_WR) after the pipe drained
  bool waiting = false;   // queued for a pipe (none could be had: EMFILE…)
  uint64_t bytes = 0;
};

struct Pair;

// What an epoll event points at: one socket of a pair.
struct Endpoint {
  Pair* pair;
  int side;
};

struct Pair {
  uint32_t id = 0;
  Endpoint endpoints[2] = {{this, 0}, {this, 1}};
  int fds[2] = {-1, -1};  // Node's sockets: never closed here
  size_t pipeSize = 0;    // asked size of a new pipe
  Direction dir[2];       // 0: A → B, 1: B → A
  bool finished = false;
};

enum class StepResult { kOk, kNoPipe };

// One round of direction i. *err: 0, or an errno, positive when it concerns socket B, negative for A.
// kNoPipe: the source may have bytes but no pipe could be had (*pipeErr): the caller queues the direction.
inline StepResult Step(Pair* p, int i, PipePool& pool, bool* progress, int* err, int* pipeErr,
                       uint64_t* moved) {
  Direction& d = p->dir[i];
  *err = 0;
  auto blame = [i](bool fromSide, int e) {
    int socket = fromSide ? i : 1 - i;  // fromSide: the error came from d.from (socket i)
    return socket == 1 ? e : -e;
  };
  if (!d.eof && !d.pipe.open() && !pool.Acquire(p->pipeSize, &d.pipe, pipeErr)) return StepResult::kNoPipe;
  if (!d.eof && d.inPipe < d.pipe.cap) {
    ssize_t n = splice(d.from, nullptr, d.pipe.w, nullptr, d.pipe.cap - d.inPipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      d.inPipe += static_cast<size_t>(n);
      *progress = true;
    } else if (n == 0) {
      d.eof = true;
      *progress = true;
    } else if (errno != EAGAIN && errno != EINTR) {
      *err = blame(true, errno);
      return StepResult::kOk;
    }
    // EAGAIN: the socket is empty, or the pipe is out of slots (small segments); writing below frees them.
  }
  if (d.inPipe > 0) {
    ssize_t n = splice(d.pipe.r, nullptr, d.to, nullptr, d.inPipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      d.inPipe -= static_cast<size_t>(n);
      d.bytes += static_cast<uint64_t>(n);
      *moved += static_cast<uint64_t>(n);
      *progress = true;
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
      *err = blame(false, errno);
      return StepResult::kOk;
    }
  }
  // Empty again: the pipe goes back, so an idle connection holds none.
  if (d.inPipe == 0) pool.Release(d.pipe);
  if (d.eof && d.inPipe == 0 && !d.shutDown) {
    d.shutDown = true;
    *progress = true;
    if (shutdown(d.to, SHUT_WR) != 0 && errno != ENOTCONN) *err = blame(false, errno);
  }
  return StepResult::kOk;
}

// Gives a finished pair's pipes back (empty) or closes them (bytes still in them belong to nobody now).
inline void DropPipes(Pair* p, PipePool& pool) {
  for (Direction& d : p->dir) {
    if (d.inPipe == 0) pool.Release(d.pipe);
    else pool.Discard(d.pipe);
    d.inPipe = 0;
  }
}

}  // namespace ztun
