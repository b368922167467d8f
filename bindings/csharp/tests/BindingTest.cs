// Tests of the C# binding itself: exception types and codes, SafeHandle
// disposal, timeouts, loans and borrows. Usage: mono test.exe PREFIX (a
// unique name prefix). Prints "N passed, 0 failed".
using System;
using System.Collections.Generic;
using System.Text;
using System.Threading;
using Memlink;

static class BindingTest
{
    static string prefix;
    static int passed, failed;

    static void Expect(bool condition, string what)
    {
        if (!condition) throw new Exception("expected: " + what);
    }

    static void Throws<T>(Action action, ErrorCode code) where T : MemlinkException
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

    static int Main(string[] args)
    {
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
            catch (MemlinkException e)
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
                var waiter = new Thread(() => rx.TryReceive(TimeSpan.FromSeconds(30), out woke));
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

        Console.WriteLine(passed + " passed, " + failed + " failed");
        return failed == 0 ? 0 : 1;
    }
}
