// Tests of the C# binding itself: exception types and codes, SafeHandle
// disposal, timeouts, loans and borrows. Usage: mono test.exe PREFIX (a
// unique name prefix). Prints "N passed, 0 failed".
using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using Memlink;

[StructLayout(LayoutKind.Sequential)]
struct Sample
{
    public int Id;
    public double Price;
    public long Stamp;
}

static class BindingTest
{
    static string prefix;
    static int passed, failed;

    static void Expect(bool condition, string what)
    {
        if (!condition) throw new Exception("expected: " + what);
    }

    static void Throws<T>(Action action, ErrorCode code) where T : Exception, IMemlinkError
    {
        try
        {
            action();
        }
        catch (T e)
        {
            if (e.Code != code) throw new Exception("expected " + code + ", got " + e.Code + ": " + e.Message);
            return;
        }
        throw new Exception("expected " + typeof(T).Name + " (" + code + ")");
    }

    static void ThrowsDisposed(Action action)
    {
        try
        {
            action();
        }
        catch (ObjectDisposedException)
        {
            return;
        }
        throw new Exception("expected ObjectDisposedException");
    }

    // Until `condition` holds, collecting garbage; false after 10 s.
    static bool AfterCollections(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            if (condition()) return true;
            Thread.Sleep(10);
        }
        return false;
    }

    // libc, for the busy-timeout test: it locks a mapping's entry as a
    // remover does (Linux only). Mono maps "libc" to the C library; run
    // only under Mono here (no .NET SDK).
    [DllImport("libc", SetLastError = true)] static extern int open(string path, int flags);
    [DllImport("libc", SetLastError = true)] static extern int flock(int fd, int operation);
    [DllImport("libc")] static extern int close(int fd);
    [DllImport("libc")] static extern uint geteuid();
    const int O_RDONLY = 0, LOCK_EX = 2, LOCK_NB = 4;

    // The error code `action` throws (ErrorCode.Ok if it throws nothing).
    static ErrorCode CodeOf(Action action)
    {
        try
        {
            action();
        }
        catch (Exception e)
        {
            var m = e as IMemlinkError;
            if (m == null) throw;
            return m.Code;
        }
        return ErrorCode.Ok;
    }

    static void Run(string name, Action test)
    {
        try
        {
            test();
            passed++;
        }
        catch (Exception e)
        {
            failed++;
            Console.WriteLine("FAILED " + name + ": " + e);
        }
    }

    /// <summary>The second process of the async event test: opens the
    /// event, says "ready", sets it when a line comes on stdin.</summary>
    static int SetEventWhenTold(string name)
    {
        using (var ev = NamedEvent.OpenExisting(name))
        {
            Console.WriteLine("ready");
            Console.Out.Flush();
            if (Console.ReadLine() == null) return 3;
            ev.Set();
        }
        return 0;
    }

    static int Main(string[] args)
    {
        if (args.Length == 2 && args[0] == "--set-event") return SetEventWhenTold(args[1]);
        prefix = args[0];

        Run("exceptions", () =>
        {
            Throws<NotFoundException>(() => SharedMemory.OpenExisting(prefix + "-missing"), ErrorCode.NotFound);
            using (SharedMemory.CreateNew(prefix + "-twice", 4096))
                Throws<AlreadyExistsException>(() => SharedMemory.CreateNew(prefix + "-twice", 4096), ErrorCode.AlreadyExists);
            Throws<InvalidArgumentException>(() => SharedMemory.CreateNew("a/b", 1), ErrorCode.InvalidName);
            try
            {
                SharedMemory.OpenExisting(prefix + "-missing");
            }
            catch (NotFoundException e)
            {
                Expect(e.Message.Contains(prefix + "-missing"), "the message names the mapping");
            }
            Expect(Library.Version.Length > 0, "a version");
        });

        Run("shared memory", () =>
        {
            bool created;
            using (var m = SharedMemory.CreateOrOpen(prefix + "-map", 8192, out created))
            using (var v = m.CreateViewAccessor(4096, 0))
            {
                Expect(created, "created");
                Expect(m.Capacity == 8192 && v.Capacity == 4096, "sizes");
                v.Write(0, Encoding.ASCII.GetBytes("abc"));
                var buf = new byte[5];
                v.ReadArray(0, buf, 1, 3);
                Expect(Encoding.ASCII.GetString(buf, 1, 3) == "abc", "read back");
                v.WriteUInt64Release(8, 1UL << 40);
                Expect(v.ReadUInt64Acquire(8) == 1UL << 40, "u64");
                Throws<MemlinkException>(() => v.Write(4094, new byte[3]), ErrorCode.OutOfRange);
                using (var ro = SharedMemory.OpenExisting(prefix + "-map", MemoryAccess.ReadOnly))
                using (var rv = ro.CreateViewAccessor())
                    Throws<AccessDeniedException>(() => rv.Write(0, new byte[1]), ErrorCode.AccessMismatch);
            }
            Throws<NotFoundException>(() => SharedMemory.OpenExisting(prefix + "-map"), ErrorCode.NotFound);
        });

        Run("events", () =>
        {
            using (var e = NamedEvent.Create(prefix + "-event", EventResetMode.AutoReset))
            using (var other = NamedEvent.OpenExisting(prefix + "-event"))
            {
                Expect(!other.WaitOne(TimeSpan.FromMilliseconds(10)), "times out");
                e.Set();
                Expect(other.WaitOne(TimeSpan.FromSeconds(1)), "released");
                Expect(!e.IsSet, "auto-reset");
            }
        });

        Run("channels", () =>
        {
            using (var options = new ChannelOptions().Capacity(1024).MaxMessage(256))
            using (var tx = Sender.Create(prefix + "-chan", options))
            using (var rx = Receiver.Open(prefix + "-chan"))
            {
                byte[] message;
                Expect(!rx.TryReceive(out message), "empty");
                Expect(!rx.TryReceive(TimeSpan.FromMilliseconds(10), out message), "timeout");
                tx.Send("one");
                Expect(tx.TrySend(Encoding.ASCII.GetBytes("two")), "room");
                Expect(Encoding.ASCII.GetString(rx.Receive()) == "one", "one");
                var buf = new byte[8];
                Expect(rx.Receive(buf, 2, 6, TimeSpan.FromSeconds(1)) == 3, "two's length");
                Expect(Encoding.ASCII.GetString(buf, 2, 3) == "two", "two");
                Throws<MemlinkException>(() => tx.Send(new byte[300]), ErrorCode.MessageTooLarge);
                while (tx.TrySend(new byte[200])) { }
                Expect(!tx.Send(new byte[200], 0, 200, TimeSpan.FromMilliseconds(10)), "full");
                Expect(tx.TryLoan(200) == null, "no room to lend");
                Expect(rx.MaxMessage == 256, "max message");
            }
        });

        Run("loans and borrows", () =>
        {
            using (var tx = Sender.Create(prefix + "-loan"))
            using (var rx = Receiver.Open(prefix + "-loan"))
            {
                using (var loan = tx.Loan(3))
                {
                    loan.Write(0, Encoding.ASCII.GetBytes("abc"));
                    Throws<MemlinkException>(() => tx.Send("x"), ErrorCode.State);
                }
                byte[] nothing;
                Expect(!rx.TryReceive(out nothing), "an abandoned loan sends nothing");
                using (var loan = tx.Loan(8))
                {
                    loan.Write(0, Encoding.ASCII.GetBytes("zero"));
                    loan.Commit(4);
                }
                using (var m = rx.Borrow(TimeSpan.FromSeconds(1)))
                {
                    Expect(Encoding.ASCII.GetString(m.ToArray()) == "zero", "borrowed");
                    Throws<MemlinkException>(() => rx.TryReceive(out nothing), ErrorCode.State);
                }
                Expect(rx.TryBorrow() == null, "nothing left");
            }
        });

        Run("disconnection", () =>
        {
            using (var rx = Receiver.Create(prefix + "-disc"))
            {
                using (var tx = Sender.Open(prefix + "-disc"))
                    tx.Send("last");
                Expect(Encoding.ASCII.GetString(rx.Receive()) == "last", "last");
                Throws<DisconnectedException>(() => rx.Receive(), ErrorCode.Disconnected);
            }
        });

        Run("a message or loan outliving its endpoint", () =>
        {
            // Used to read and write freed memory (SIGSEGV).
            string name = prefix + "-outlive";
            using (var tx = Sender.Create(name))
            {
                var rx = Receiver.Open(name);
                tx.Send(new byte[100]);
                var m = rx.Borrow(TimeSpan.FromSeconds(1));
                rx.Dispose();  // releases the message
                ThrowsDisposed(() => m.ToArray());
                Expect(!m.IsOutstanding, "released with its receiver");
                m.Dispose();
                using (Receiver.Open(name)) { }  // the endpoint's slot is free: it closed
            }
            var tx2 = Sender.Create(name + "-2");
            var loan = tx2.Loan(8);
            tx2.Dispose();  // abandons the loan
            ThrowsDisposed(() => loan.Write(0, new byte[1]));
            ThrowsDisposed(() => loan.Commit());
            loan.Dispose();
            using (var tx = Sender.Create(name + "-3"))
            using (var rx = Receiver.Open(name + "-3"))
            {
                var l = tx.Loan(4);
                l.Write(0, Encoding.ASCII.GetBytes("abcd"));
                l.Commit();
                ThrowsDisposed(() => l.Write(0, new byte[1]));
                using (var m = rx.Borrow(TimeSpan.FromSeconds(1)))
                {
                    Expect(Encoding.ASCII.GetString(m.ToArray()) == "abcd", "committed");
                    m.Dispose();
                    ThrowsDisposed(() => m.ToArray());
                }
            }
        });

        Run("forgotten messages and loans are ended by their finalizers", () =>
        {
            string name = prefix + "-forgotten";
            using (var tx = Sender.Create(name))
            using (var rx = Receiver.Open(name))
            {
                tx.Send("one");
                // Made and dropped on another thread: nothing on this
                // thread's stack keeps them alive.
                var t = new Thread(() => { rx.Borrow(TimeSpan.FromSeconds(1)); tx.Loan(8); });
                t.Start();
                t.Join();
                Expect(AfterCollections(() =>
                {
                    try
                    {
                        byte[] nothing;
                        return !rx.TryReceive(out nothing) && tx.TrySend(Encoding.ASCII.GetBytes("two"));
                    }
                    catch (MemlinkException e)
                    {
                        if (e.Code != ErrorCode.State) throw;
                        return false;
                    }
                }), "the receiver and sender work again");
                Expect(Encoding.ASCII.GetString(rx.Receive()) == "two", "two");
            }
        });

        Run("two threads sharing a receiver get whole messages", () =>
        {
            // TryReceive copied out of one shared buffer after the native
            // call, while the other thread's call could be filling it.
            const int count = 3000;
            Func<int, byte[]> message = i =>
            {
                var m = new byte[8 + (i * 37) % 700];
                for (int k = 4; k < m.Length; k++) m[k] = (byte)(i % 251);
                BitConverter.GetBytes(i).CopyTo(m, 0);
                return m;
            };
            using (var options = new ChannelOptions().Capacity(1 << 16).MaxMessage(1024))
            using (var tx = Sender.Create(prefix + "-shared-rx", options))
            using (var rx = Receiver.Open(prefix + "-shared-rx"))
            {
                var got = new List<int>();
                var bad = new List<int>();
                var deadline = DateTime.UtcNow.AddSeconds(60);
                Exception failure = null;
                ThreadStart drain = () =>
                {
                    try
                    {
                        while (DateTime.UtcNow < deadline)
                        {
                            lock (got) if (got.Count + bad.Count >= count) return;
                            byte[] m;
                            try
                            {
                                if (!rx.TryReceive(TimeSpan.FromMilliseconds(10), out m)) continue;
                            }
                            catch (MemlinkException e)
                            {
                                if (e.Code != ErrorCode.State) throw;
                                continue;  // the other thread is inside: as the C ABI says
                            }
                            int i = BitConverter.ToInt32(m, 0);
                            bool whole = i >= 0 && i < count && Convert.ToBase64String(m) == Convert.ToBase64String(message(i));
                            lock (got) (whole ? got : bad).Add(i);
                        }
                    }
                    catch (Exception e)
                    {
                        failure = e;
                    }
                };
                var threads = new[] { new Thread(drain), new Thread(drain) };
                foreach (var t in threads) t.Start();
                for (int i = 0; i < count; i++)
                    Expect(tx.Send(message(i), 0, message(i).Length, TimeSpan.FromSeconds(30)), "room");
                foreach (var t in threads) t.Join();
                if (failure != null) throw failure;
                Expect(bad.Count == 0, bad.Count + " torn messages");
                got.Sort();
                Expect(got.Count == count, got.Count + " of " + count + " messages");
                for (int i = 0; i < count; i++) Expect(got[i] == i, "message " + i + " once");
            }
        });

        Run("dispose while another thread waits", () =>
        {
            string name = prefix + "-dispose-busy";
            using (var tx = Sender.Create(name))
            {
                var rx = Receiver.Open(name);
                byte[] woke = null;
                // The waiter may start while the probe below is inside a
                // call: then it gets State and tries again.
                var waiter = new Thread(() =>
                {
                    while (true)
                    {
                        try
                        {
                            rx.TryReceive(TimeSpan.FromSeconds(30), out woke);
                            return;
                        }
                        catch (MemlinkException e)
                        {
                            if (e.Code != ErrorCode.State) throw;
                        }
                    }
                });
                waiter.Start();
                var deadline = DateTime.UtcNow.AddSeconds(10);
                while (true)  // until the waiter is inside
                {
                    Expect(DateTime.UtcNow < deadline, "the waiter waits");
                    try
                    {
                        byte[] nothing;
                        rx.TryReceive(out nothing);
                    }
                    catch (MemlinkException e)
                    {
                        if (e.Code == ErrorCode.State) break;
                        throw;
                    }
                    Thread.Sleep(5);
                }
                rx.Dispose();  // closes once the waiter's call returns
                tx.Send("wake");
                waiter.Join();
                Expect(woke != null && Encoding.ASCII.GetString(woke) == "wake", "the waiter got its message");
                Expect(AfterCollections(() =>
                {
                    try
                    {
                        using (Receiver.Open(name)) return true;  // the slot was freed: nothing leaked
                    }
                    catch (MemlinkException e)
                    {
                        if (e.Code != ErrorCode.NoFreeSlot) throw;
                        return false;
                    }
                }), "the receiver was closed");
            }
        });

        Run("options and ranges", () =>
        {
            using (var options = new ChannelOptions().AllowForeignOwner(true).Persistent(false))
            using (var tx = Sender.Create(prefix + "-options", options))
            using (var rx = Receiver.Open(prefix + "-options", options))
                Expect(tx.IsConnected, "connected");
            using (var m = SharedMemory.CreateNew(prefix + "-flush", 8192))
            using (var v = m.CreateViewAccessor())
            {
                v.Write(4096, new byte[] { 1, 2, 3 });
                v.Flush(4096, 3);
                Throws<MemlinkException>(() => v.Flush(8000, 1000), ErrorCode.OutOfRange);
            }
            using (var tx = Sender.Create(prefix + "-negative"))
            {
                try
                {
                    tx.Loan(-1);
                    throw new Exception("expected ArgumentOutOfRangeException");
                }
                catch (ArgumentOutOfRangeException)
                {
                }
            }
        });

        Run(".NET exception types", () =>
        {
            // catch blocks written for MemoryMappedFile catch these.
            try { SharedMemory.OpenExisting(prefix + "-none"); throw new Exception("opened"); }
            catch (FileNotFoundException e) { Expect(((IMemlinkError)e).Code == ErrorCode.NotFound, "NotFound code"); }
            using (var m = SharedMemory.CreateNew(prefix + "-io", 4096))
            {
                try { SharedMemory.CreateNew(prefix + "-io", 4096); throw new Exception("created twice"); }
                catch (IOException e) { Expect(e is AlreadyExistsException, "AlreadyExists is an IOException"); }
                using (var ro = SharedMemory.OpenExisting(prefix + "-io", MemoryAccess.ReadOnly))
                using (var v = ro.CreateViewAccessor())
                {
                    Expect(!v.CanWrite, "read-only view");
                    try { v.Write(0, 5); throw new Exception("wrote a read-only view"); }
                    catch (UnauthorizedAccessException e) { Expect(((IMemlinkError)e).Code == ErrorCode.AccessMismatch, "AccessMismatch"); }
                }
            }
            try { SharedMemory.CreateNew("bad/name", 1); throw new Exception("bad name taken"); }
            catch (ArgumentException e) { Expect(((IMemlinkError)e).Code == ErrorCode.InvalidName, "InvalidName"); }
        });

        Run("typed accessor (MemoryMappedViewAccessor shape)", () =>
        {
            using (var m = SharedMemory.CreateNew(prefix + "-typed", 4096))
            using (var v = m.CreateViewAccessor(0, 4096, MemoryAccess.ReadWrite))
            {
                v.Write(0, 42);
                v.Write(4, -7L);
                v.Write(12, 2.5);
                v.Write(20, true);
                v.Write(21, 'Z');
                v.Write(23, (short)-3);
                v.Write(25, 1.25f);
                Expect(v.ReadInt32(0) == 42 && v.ReadInt64(4) == -7 && v.ReadDouble(12) == 2.5, "int / long / double");
                Expect(v.ReadBoolean(20) && v.ReadChar(21) == 'Z' && v.ReadInt16(23) == -3 && v.ReadSingle(25) == 1.25f, "bool / char / short / float");
                Expect(v.ReadByte(0) == 42 && v.ReadUInt32(0) == 42u, "byte / uint");

                var sample = new Sample { Id = 7, Price = 99.5, Stamp = 1234567890123 };
                v.Write(64, ref sample);
                Sample back;
                v.Read(64, out back);
                Expect(back.Id == 7 && back.Price == 99.5 && back.Stamp == 1234567890123, "Read<T> / Write<T>");

                var numbers = new[] { 1, 2, 3, 4, 5 };
                v.WriteArray(128, numbers, 1, 3);
                var got = new int[5];
                Expect(v.ReadArray(128, got, 2, 3) == 3, "ReadArray count");
                Expect(got[2] == 2 && got[3] == 3 && got[4] == 4 && got[0] == 0, "ReadArray<int> / WriteArray<int>");
                Throws<MemlinkException>(() => v.ReadInt64(4090), ErrorCode.OutOfRange);
            }
        });

#if MEMLINK_SPAN
        Run("Span<byte> views, loans and messages", () =>
        {
            using (var m = SharedMemory.CreateNew(prefix + "-span", 4096))
            using (var v = m.CreateViewAccessor(0, 4096, MemoryAccess.ReadWrite))
            using (var ro = m.CreateViewAccessor(0, 4096, MemoryAccess.ReadOnly))
            {
                Span<byte> all = v.AsSpan();
                Expect(all.Length == 4096, "AsSpan length");
                all[100] = 0x5a;
                Expect(v.ReadByte(100) == 0x5a, "a write through the span is the view's byte");
                v.GetSpan(200, 4).Fill(7);
                Expect(v.ReadUInt32(200) == 0x07070707u, "GetSpan(200, 4).Fill");
                Expect(MemoryMarshal.Cast<byte, int>(v.GetSpan(200, 8))[0] == 0x07070707, "cast span");
                ReadOnlySpan<byte> seen = ro.GetReadOnlySpan(100, 1);
                Expect(seen[0] == 0x5a && ro.AsReadOnlySpan().Length == 4096, "read-only span sees it");
                Throws<AccessDeniedException>(() => ro.GetSpan(0, 1), ErrorCode.AccessMismatch);
                Throws<MemlinkException>(() => v.GetSpan(4090, 7), ErrorCode.OutOfRange);
                Throws<MemlinkException>(() => v.GetReadOnlySpan(-1, 1), ErrorCode.OutOfRange);
                Expect(v.GetReadOnlySpan(4096, 0).Length == 0, "an empty span at the end");
                var copy = new byte[4];
                v.Read(200, new Span<byte>(copy));
                Expect(copy[3] == 7, "Read(position, Span)");
            }
            using (var tx = Sender.Create(prefix + "-spanchan"))
            using (var rx = Receiver.Open(prefix + "-spanchan"))
            {
                using (var loan = tx.Loan(3))
                {
                    Span<byte> bytes = loan.Span;  // (mcs: a local, not the property, takes writes)
                    bytes[0] = (byte)'a'; bytes[1] = (byte)'b'; bytes[2] = (byte)'c';
                    loan.Commit();
                }
                using (var message = rx.Borrow(TimeSpan.FromSeconds(5)))
                    Expect(message.Span.Length == 3 && message.Span[2] == (byte)'c', "ReceivedMessage.Span");
                Expect(tx.Send(new ReadOnlySpan<byte>(new byte[] { 1, 2 }), TimeSpan.FromSeconds(1)), "Send(ReadOnlySpan)");
                Expect(rx.Receive().Length == 2, "sent from a span");
            }
        });
        Console.WriteLine("Span APIs: tested");
#endif

        Run("view stream", () =>
        {
            using (var m = SharedMemory.CreateNew(prefix + "-stream", 8192))
            {
                using (var s = m.CreateViewStream(4096, 100))
                {
                    Expect(s.Length == 100 && s.CanWrite, "stream length / writable");
                    var w = new StreamWriter(s);
                    w.Write("through a stream");
                    w.Flush();
                }
                using (var v = m.CreateViewAccessor())
                    Expect(Encoding.ASCII.GetString(v.Read(4096, 16)) == "through a stream", "stream wrote the mapping");
                using (var s = m.CreateViewStream(4096, 0, MemoryAccess.ReadOnly))
                {
                    Expect(!s.CanWrite && s.Length == 4096, "read-only stream to the end");
                    var text = new byte[16];
                    Expect(s.Read(text, 0, 16) == 16 && Encoding.ASCII.GetString(text) == "through a stream", "stream read");
                    try { s.WriteByte(1); throw new Exception("wrote a read-only stream"); }
                    catch (NotSupportedException) { }
                }
            }
        });

        Run("file-backed mapping (CreateFromFile)", () =>
        {
            string path = Path.Combine(Path.GetTempPath(), prefix + ".bin");
            File.Delete(path);
            try
            {
                try { SharedMemory.CreateFromFile(path, FileMode.Open); throw new Exception("mapped a missing file"); }
                catch (FileNotFoundException) { }
                // A zero-length file and capacity 0: ERROR_FILE_INVALID.
                Throws<MemlinkException>(() => SharedMemory.CreateFromFile(path, FileMode.CreateNew, prefix + "-file0"), ErrorCode.ZeroSize);
                using (var m = SharedMemory.CreateFromFile(path, FileMode.OpenOrCreate, prefix + "-file", 8192))
                using (var v = m.CreateViewAccessor())
                {
                    Expect(new FileInfo(path).Length == 8192, "capacity grows the file");
                    v.Write(100, 4242);
                    v.Flush();
                }
                using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read))
                using (var m = SharedMemory.CreateFromFile(fs, null, 0, MemoryAccess.ReadOnly, true))
                using (var v = m.CreateViewAccessor())
                {
                    Expect(m.Capacity == 8192, "capacity 0 is the file's size");
                    Expect(v.ReadInt32(100) == 4242, "the file holds what was written");
                    Expect(fs.CanRead, "leaveOpen kept the stream open");
                }
            }
            finally
            {
                File.Delete(path);
            }
        });

        Run("mapping options: mode, persistent, foreign owner", () =>
        {
            var options = new SharedMemoryOptions { Capacity = 4096, Mode = Convert.ToUInt32("640", 8), Persistent = true, AllowForeignOwner = true, Populate = true };
            using (var m = options.Create(prefix + "-opts"))
            {
                Expect(m.Mode == Convert.ToUInt32("640", 8), "mode 0640");
                Expect(m.IsPersistent, "persistent");
                using (var v = m.CreateViewAccessor()) v.Write(0, 99);
            }
            using (var again = new SharedMemoryOptions { Access = MemoryAccess.ReadOnly }.Open(prefix + "-opts"))
            using (var v = again.CreateViewAccessor())
                Expect(v.ReadInt32(0) == 99, "persistent mapping outlived its holders");
            SharedMemory.Remove(prefix + "-opts");
            bool created;
            using (var m = new SharedMemoryOptions { Capacity = 4096 }.CreateOrOpen(prefix + "-opts", out created))
                Expect(created && !m.IsPersistent, "created anew after Remove");
        });

        Run("robust mutex", () =>
        {
            using (var m = SharedMemory.CreateNew(prefix + "-mutex", 4096))
            using (var a = RobustMutex.Init(m, 0))
            using (var b = RobustMutex.Open(m, 0))
            {
                bool died;
                Expect(a.Lock(TimeSpan.Zero, out died) && !died, "locked");
                Expect(!b.Lock(TimeSpan.FromMilliseconds(20), out died), "held: Lock times out");
                a.Unlock();
                Throws<MemlinkException>(() => a.Unlock(), ErrorCode.State);
                Expect(b.Lock(TimeSpan.FromSeconds(5), out died) && !died, "b locks");
                b.Unlock();
                Throws<InvalidArgumentException>(() => RobustMutex.Init(m, 64), ErrorCode.InvalidArgument);
            }
        });

        Run("async waits and receives with cancellation", () =>
        {
            using (var ev = NamedEvent.Create(prefix + "-async-ev", EventResetMode.AutoReset))
            {
                var waiting = ev.WaitAsync(TimeSpan.FromSeconds(10));
                ev.Set();
                Expect(waiting.Wait(TimeSpan.FromSeconds(10)) && waiting.Result, "WaitAsync released by Set");
                Expect(!ev.WaitAsync(TimeSpan.FromMilliseconds(30)).Result, "WaitAsync times out");
                using (var cts = new CancellationTokenSource())
                {
                    var never = ev.WaitAsync(Timeout.InfiniteTimeSpan, cts.Token);
                    cts.Cancel();
                    try { never.Wait(TimeSpan.FromSeconds(10)); throw new Exception("not cancelled"); }
                    catch (AggregateException e) { Expect(e.InnerException is OperationCanceledException, "cancelled: " + e.InnerException); }
                }
                // The cancelled wait took no signal: a Set now stays set.
                ev.Set();
                Expect(ev.IsSet, "a cancelled WaitAsync takes no signal");
                Expect(ev.WaitAsync(TimeSpan.FromSeconds(10)).Result && !ev.IsSet, "the next WaitAsync takes it");
                // Two waiters, two signals: one each, in order.
                var first = ev.WaitAsync(TimeSpan.FromSeconds(10));
                var second = ev.WaitAsync(TimeSpan.FromSeconds(10));
                ev.Set();
                Expect(first.Result, "the first waiter is released first");
                ev.Set();
                Expect(second.Result && !ev.IsSet, "then the second");
                // Disposed while waited for.
                var orphan = NamedEvent.Create(prefix + "-async-ev-gone", EventResetMode.AutoReset);
                var lost = orphan.WaitAsync(TimeSpan.FromSeconds(10));
                orphan.Dispose();
                try { lost.Wait(TimeSpan.FromSeconds(10)); throw new Exception("not failed"); }
                catch (AggregateException e) { Expect(e.InnerException is ObjectDisposedException, "disposed: " + e.InnerException); }
            }
            // Set by a second process while a WaitAsync is pending.
            using (var ev = NamedEvent.Create(prefix + "-async-ev-proc", EventResetMode.AutoReset))
            {
                var start = new System.Diagnostics.ProcessStartInfo(
                    System.Diagnostics.Process.GetCurrentProcess().MainModule.FileName,
                    "\"" + System.Reflection.Assembly.GetEntryAssembly().Location + "\" --set-event " + prefix + "-async-ev-proc")
                {
                    UseShellExecute = false,
                    RedirectStandardInput = true,
                    RedirectStandardOutput = true,
                };
                using (var child = System.Diagnostics.Process.Start(start))
                {
                    Expect(child.StandardOutput.ReadLine() == "ready", "the child opened the event");
                    var waiting = ev.WaitAsync(TimeSpan.FromSeconds(20));
                    Expect(!waiting.IsCompleted, "nothing set yet");
                    child.StandardInput.WriteLine("set");
                    child.StandardInput.Flush();
                    Expect(waiting.Wait(TimeSpan.FromSeconds(20)) && waiting.Result, "released by the other process's Set");
                    Expect(!ev.IsSet, "the wait took the auto-reset signal");
                    Expect(child.WaitForExit(20000) && child.ExitCode == 0, "the child exited 0");
                }
            }
            using (var tx = Sender.Create(prefix + "-async"))
            using (var rx = Receiver.Open(prefix + "-async"))
            {
                var receiving = rx.ReceiveAsync(TimeSpan.FromSeconds(10));
                tx.Send("later");
                Expect(receiving.Wait(TimeSpan.FromSeconds(10)) && Encoding.UTF8.GetString(receiving.Result) == "later", "ReceiveAsync");
                Expect(rx.ReceiveAsync(TimeSpan.FromMilliseconds(30)).Result == null, "ReceiveAsync times out");
                using (var cts = new CancellationTokenSource())
                {
                    var pending = rx.ReceiveAsync(cts.Token);
                    cts.Cancel();
                    try { pending.Wait(TimeSpan.FromSeconds(10)); throw new Exception("not cancelled"); }
                    catch (AggregateException e) { Expect(e.InnerException is OperationCanceledException, "cancelled: " + e.InnerException); }
                }
            }
        });

        Run("ReceiveAsync on many receivers at once, on the WaitSet", () =>
        {
            var senders = new List<Sender>();
            var receivers = new List<Receiver>();
            try
            {
                for (int i = 0; i < 3; i++)
                {
                    senders.Add(Sender.Create(prefix + "-many-" + i));
                    receivers.Add(Receiver.Open(prefix + "-many-" + i));
                }
                var tasks = new List<System.Threading.Tasks.Task<byte[]>>();
                foreach (var rx in receivers) tasks.Add(rx.ReceiveAsync(TimeSpan.FromSeconds(20)));
                Throws<MemlinkException>(() => receivers[0].ReceiveAsync(), ErrorCode.State);
                // Answered out of order: each task gets its own channel's message.
                senders[2].Send("two");
                Expect(tasks[2].Wait(TimeSpan.FromSeconds(10)) && Encoding.UTF8.GetString(tasks[2].Result) == "two", "third first");
                Expect(!tasks[0].IsCompleted && !tasks[1].IsCompleted, "the others still wait");
                senders[0].Send("zero");
                senders[1].Send("one");
                Expect(System.Threading.Tasks.Task.WaitAll(tasks.ToArray(), TimeSpan.FromSeconds(10)), "all done");
                Expect(Encoding.UTF8.GetString(tasks[0].Result) == "zero" && Encoding.UTF8.GetString(tasks[1].Result) == "one", "each its own");
                // Cancellation ends a wait at once (no slices to wait out).
                using (var cts = new CancellationTokenSource())
                {
                    var pending = receivers[0].ReceiveAsync(cts.Token);
                    var watch = System.Diagnostics.Stopwatch.StartNew();
                    cts.Cancel();
                    try { pending.Wait(TimeSpan.FromSeconds(10)); throw new Exception("not cancelled"); }
                    catch (AggregateException e) { Expect(e.InnerException is OperationCanceledException, "cancelled: " + e.InnerException); }
                    Console.WriteLine("ReceiveAsync cancelled in " + watch.Elapsed.TotalMilliseconds.ToString("0.0") + " ms");
                }
                // The receiver is usable again, synchronously and async.
                senders[0].Send("after");
                Expect(Encoding.UTF8.GetString(receivers[0].ReceiveAsync(TimeSpan.FromSeconds(10)).Result) == "after", "after a cancel");
                // The sender goes: a pending receive ends with DisconnectedException.
                var orphan = receivers[1].ReceiveAsync();
                senders[1].Dispose();
                try { orphan.Wait(TimeSpan.FromSeconds(10)); throw new Exception("not disconnected"); }
                catch (AggregateException e) { Expect(e.InnerException is DisconnectedException, "disconnected: " + e.InnerException); }
                // The receiver is disposed while a receive is pending.
                var dropped = receivers[2].ReceiveAsync();
                receivers[2].Dispose();
                try { dropped.Wait(TimeSpan.FromSeconds(10)); throw new Exception("not ended"); }
                catch (AggregateException e) { Expect(e.InnerException is ObjectDisposedException, "disposed: " + e.InnerException); }
            }
            finally
            {
                foreach (var rx in receivers) rx.Dispose();
                foreach (var tx in senders) tx.Dispose();
            }
        });

        Run("WaitSet", () =>
        {
            using (var ta = Sender.Create(prefix + "-ws-a"))
            using (var ra = Receiver.Open(prefix + "-ws-a"))
            using (var tb = Sender.Create(prefix + "-ws-b"))
            using (var rb = Receiver.Open(prefix + "-ws-b"))
            using (var set = new WaitSet())
            {
                Expect(set.Add(ra) == 0 && set.Add(rb) == 1 && set.Count == 2, "tokens");
                Throws<InvalidArgumentException>(() => set.Add(ra), ErrorCode.InvalidArgument);
                Expect(set.Wait(TimeSpan.FromMilliseconds(20)).Length == 0, "nothing ready: timeout");
                tb.Send("b");
                var ready = set.Wait(TimeSpan.FromSeconds(5));
                Expect(ready.Length == 1 && ready[0].Token == 1 && ready[0].Readiness == Readiness.Readable, "the second is readable");
                int deadline = set.AddDeadline(TimeSpan.FromMilliseconds(30));
                Expect(set.Wait(TimeSpan.FromSeconds(5)).Length == 1, "still readable (level-triggered)");
                Expect(Encoding.UTF8.GetString(rb.Receive()) == "b", "received");
                ready = set.Wait(Timeout.InfiniteTimeSpan);
                Expect(ready.Length == 1 && ready[0].Token == deadline && ready[0].Readiness == Readiness.Deadline, "deadline");
                set.Clear();
                set.Add(ta, 16);
                ready = set.Wait(TimeSpan.FromSeconds(1));
                Expect(ready.Length == 1 && ready[0].Readiness == Readiness.Writable, "writable");
            }
        });

        Run("WaitSet over intervals, events and peer watches", () =>
        {
            using (var ev = NamedEvent.Create(prefix + "-ws-ev", EventResetMode.AutoReset))
            using (var tx = Sender.Create(prefix + "-ws-peers"))
            using (var rx = Receiver.Open(prefix + "-ws-peers"))
            using (var set = new WaitSet())
            {
                int onEvent = set.Add(ev);
                var clock = System.Diagnostics.Stopwatch.StartNew(); // before the interval starts
                int tick = set.AddInterval(TimeSpan.FromMilliseconds(15));
                Expect(set.AddPeerDeath(rx) == 2 && set.AddPeerDeath(tx) == 3 && set.Count == 4, "tokens");
                Throws<InvalidArgumentException>(() => set.Add(ev), ErrorCode.InvalidArgument);
                Throws<InvalidArgumentException>(() => set.AddInterval(TimeSpan.Zero), ErrorCode.InvalidArgument);
                for (int i = 0; i < 2; i++)
                {
                    var ticked = set.Wait(TimeSpan.FromSeconds(5));
                    Expect(ticked.Length == 1 && ticked[0].Token == tick && ticked[0].Readiness == Readiness.Tick, "a tick");
                }
                Expect(clock.ElapsedMilliseconds >= 29, "two periods passed");
                ev.Set();
                var ready = set.Wait(TimeSpan.Zero);
                Expect(ready.Length == 1 && ready[0].Token == onEvent && ready[0].Readiness == Readiness.Signaled, "signaled");
                Expect(!ev.IsSet && set.Wait(TimeSpan.Zero).Length == 0, "the wait took the signal");
            }
        });

        Run("seqlock of a struct", () =>
        {
            using (var m = SharedMemory.CreateNew(prefix + "-seq", 4096))
            using (var w = SeqLock<Sample>.Init(m, 128, new Sample { Id = 1 }))
            using (var ro = SharedMemory.OpenExisting(prefix + "-seq", MemoryAccess.ReadOnly))
            using (var r = SeqLock<Sample>.Open(ro, 128))
            {
                Expect(r.Read().Id == 1 && r.Version == 0, "initial snapshot");
                w.Write(new Sample { Id = 2, Price = 3.5, Stamp = 9 });
                Sample s;
                Expect(r.TryRead(TimeSpan.FromSeconds(1), out s) && s.Id == 2 && s.Price == 3.5 && r.Version == 1, "written snapshot");
                Throws<AccessDeniedException>(() => r.Write(s), ErrorCode.AccessMismatch);
                Throws<MemlinkException>(() => SeqLock<long>.Open(m, 128), ErrorCode.Corrupt);
            }
        });

        Run("identify tells what a name holds", () =>
        {
            using (var m = SharedMemory.CreateNew(prefix + "-id-map", 4096))
            using (var ev = NamedEvent.Create(prefix + "-id-ev", EventResetMode.AutoReset))
            using (var tx = Sender.Create(prefix + "-id-ch"))
            {
                Expect(Library.Identify(prefix + "-id-map") == ObjectKind.Mapping, "a mapping");
                Expect(Library.Identify(prefix + "-id-ev") == ObjectKind.Event, "an event");
                Expect(Library.Identify(prefix + "-id-ch") == ObjectKind.Channel, "a channel");
            }
            Throws<NotFoundException>(() => Library.Identify(prefix + "-id-none"), ErrorCode.NotFound);
            try
            {
                Library.Identify(prefix + "-id-none");
            }
            catch (NotFoundException e)
            {
                Expect(e.Message.Contains(prefix + "-id-none"), "the message names it");
            }
            Throws<InvalidArgumentException>(() => Library.Identify("a/b"), ErrorCode.InvalidName);
            // Looking held nothing: disposed, the mapping is gone.
            Throws<NotFoundException>(() => Library.Identify(prefix + "-id-map"), ErrorCode.NotFound);
        });

        Run("busy timeout", () =>
        {
            string name = prefix + "-busy";
            var never = new SharedMemoryOptions { Capacity = 4096, BusyTimeout = TimeSpan.Zero };
            Expect(new SharedMemoryOptions().BusyTimeout == null, "the library's default");
            using (var m = never.Create(name))
            using (var again = never.Open(name))
            using (var longer = new SharedMemoryOptions { BusyTimeout = TimeSpan.FromSeconds(3) }.Open(name))
                Expect(again.Capacity == 4096 && longer.Capacity == 4096, "opened with zero and with 3 s");
            // Always bounded: a negative timeout is refused.
            Expect(CodeOf(() => new SharedMemoryOptions { BusyTimeout = Timeout.InfiniteTimeSpan }.Create(name))
                == ErrorCode.InvalidArgument, "InfiniteTimeSpan refused by memlink");
            try
            {
                new SharedMemoryOptions { BusyTimeout = TimeSpan.FromMilliseconds(-5) }.Create(name);
                throw new Exception("expected ArgumentOutOfRangeException");
            }
            catch (ArgumentOutOfRangeException)
            {
            }
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) return;
            // An entry held locked, as a remover holds it while it unlinks
            // the name: zero says Busy at once, 100 ms (shorter than a removal
            // takes) after waiting, and the default finds that the lock
            // outlasts any removal and opens. Nobody may hold the name for the
            // lock to be taken.
            string held = prefix + "-busy-held";
            using (new SharedMemoryOptions { Capacity = 4096, Persistent = true }.Create(held)) { }
            int fd = open("/dev/shm/memlink-" + geteuid() + "/" + held, O_RDONLY);
            bool locked = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0;
            ErrorCode zero = CodeOf(() => new SharedMemoryOptions { BusyTimeout = TimeSpan.Zero }.Open(held).Dispose());
            ErrorCode shortWait = CodeOf(() => new SharedMemoryOptions { BusyTimeout = TimeSpan.FromMilliseconds(100) }.Open(held).Dispose());
            ErrorCode byDefault = CodeOf(() => new SharedMemoryOptions().Open(held).Dispose());
            if (fd >= 0) close(fd);
            SharedMemory.Remove(held);
            Expect(locked, "the entry locked");
            Expect(zero == ErrorCode.Busy, "zero: Busy at once, not " + zero);
            Expect(shortWait == ErrorCode.Busy, "100 ms: Busy, not " + shortWait);
            Expect(byDefault == ErrorCode.Ok, "the default opens, not " + byDefault);
        });

        Console.WriteLine(passed + " passed, " + failed + " failed");
        return failed == 0 ? 0 : 1;
    }
}
