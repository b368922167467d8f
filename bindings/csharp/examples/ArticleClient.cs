// The article's second process, over memlink: opens Global\NAME (the
// server's file-backed mapping), waits for the server's event, reads the
// message under the robust mutex. Then the server takes the lock and is
// killed with kill -9: locking next, this client learns that the owner
// died, repairs the message, marks the mutex consistent and goes on.
//
//   mono ArticleClient.exe NAME
//
// The layout and events are described in bindings/cpp/examples/article_server.cpp.
// Every wait is bounded (30 s).
using System;
using System.Text;
using Memlink;

static class ArticleClient
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    static string ReadMessage(SharedMemoryView data)
    {
        var bytes = data.Read(0, 256);
        int end = Array.IndexOf(bytes, (byte)0);
        return Encoding.UTF8.GetString(bytes, 0, end < 0 ? bytes.Length : end);
    }

    static int Main(string[] args)
    {
        string name = args[0];
        try
        {
            // OpenFileMapping(FILE_MAP_ALL_ACCESS, false, "Global\\NAME").
            using (var mapping = SharedMemory.OpenExisting("Global\\" + name))
            using (var mutex = RobustMutex.Open(mapping, 0))
            using (var ready = NamedEvent.OpenExisting(name + "-ready"))
            using (var go = NamedEvent.OpenExisting(name + "-go"))
            using (var held = NamedEvent.OpenExisting(name + "-held"))
            using (var data = mapping.CreateViewAccessor(RobustMutex.Size, 0))
            {
                if (!ready.WaitOne(Patience)) throw new Exception("the server never said ready");
                bool ownerDied;
                if (!mutex.Lock(Patience, out ownerDied)) throw new Exception("the mutex stayed locked");
                string message = ReadMessage(data);
                mutex.Unlock();
                Console.WriteLine("client read: " + message);
                Console.Out.Flush();

                go.Set();
                if (!held.WaitOne(Patience)) throw new Exception("the server never took the lock again");
                // Blocks until the server lets go, or dies holding the lock.
                if (!mutex.Lock(Patience, out ownerDied)) throw new Exception("the mutex stayed locked");
                Console.WriteLine("client: owner died: " + ownerDied);
                if (ownerDied)
                {
                    // The dead owner's message is half-written: repair it.
                    data.Write(0, Encoding.UTF8.GetBytes("Repaired by the C# client.\0"));
                    data.Flush();
                    mutex.MarkConsistent();
                }
                mutex.Unlock();

                if (!mutex.Lock(Patience, out ownerDied)) throw new Exception("the mutex stayed locked");
                message = ReadMessage(data);
                mutex.Unlock();
                Console.WriteLine("client read: " + message + (ownerDied ? " (owner died again?)" : ""));
                return ownerDied ? 1 : 0;
            }
        }
        catch (Exception e)
        {
            var code = e as IMemlinkError;
            Console.Error.WriteLine("client: " + (code != null ? code.Code + ": " : "") + e.Message);
        }
        return 1;
    }
}
