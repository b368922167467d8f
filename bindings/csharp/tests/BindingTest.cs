// Tests of the C# binding itself: exception types and codes, SafeHandle
// disposal, timeouts, loans and borrows. Usage: mono test.exe PREFIX (a
// unique name prefix). Prints "N passed, 0 failed".
using System;
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

        Console.WriteLine(passed + " passed, " + failed + " failed");
        return failed == 0 ? 0 : 1;
    }
}
