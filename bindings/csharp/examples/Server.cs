// The article's C# server, over memlink: a raw named mapping with a
// greeting, then messages on a broadcast channel to every client that says
// it is ready. The protocol is the one of bindings/cpp/examples/server.cpp.
//
//   mono server.exe NAME CLIENTS COUNT
using System;
using System.Text;
using Memlink;

static class Server
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    static int Main(string[] args)
    {
        if (args.Length != 3)
        {
            Console.Error.WriteLine("usage: server.exe NAME CLIENTS COUNT");
            return 2;
        }
        string name = args[0];
        int clients = int.Parse(args[1]);
        int count = int.Parse(args[2]);
        try
        {
            // MemoryMappedFile.CreateNew, but shared by name on Linux too.
            using (var mapping = SharedMemory.CreateNew("Global\\" + name + "-map", 4096))
            using (var view = mapping.CreateViewAccessor())
            using (var upOptions = new ChannelOptions().Kind(ChannelKind.ManyToOne).MaxSenders(16))
            using (var up = Receiver.Create(name + "-up", upOptions))
            using (var options = new ChannelOptions().Kind(ChannelKind.Broadcast).MaxReceivers(8).MaxMessage(1024))
            using (var tx = Sender.Create(name, options))
            {
                view.Write(0, Encoding.UTF8.GetBytes("hello from the C# server\0"));
                Console.WriteLine("server ready");
                Console.Out.Flush();

                for (int i = 0; i < clients; i++)
                {
                    byte[] hello;
                    if (!up.TryReceive(Patience, out hello)) throw new Exception("no client said ready within 30 s");
                    Console.WriteLine("server: " + Encoding.UTF8.GetString(hello));
                }
                for (int i = 0; i < count; i++)
                {
                    byte[] message = Encoding.UTF8.GetBytes("message " + i);
                    if (i % 2 == 0)
                    {
                        if (!tx.Send(message, 0, message.Length, Patience)) throw new Exception("no room within 30 s");
                    }
                    else
                    {
                        // Zero-copy: fill the message's place in the ring.
                        using (var loan = tx.Loan(message.Length, Patience))
                        {
                            loan.Write(0, message);
                            loan.Commit();
                        }
                    }
                }
                tx.Send("bye");
                for (int i = 0; i < clients; i++)
                {
                    byte[] done;
                    if (!up.TryReceive(Patience, out done)) throw new Exception("a client did not finish within 30 s");
                    Console.WriteLine("server: " + Encoding.UTF8.GetString(done));
                }
                Console.WriteLine("server done: " + clients + " clients, " + count + " messages each");
                return 0;
            }
        }
        catch (MemlinkException e)
        {
            Console.Error.WriteLine("server: " + e.Code + ": " + e.Message);
        }
        catch (Exception e)
        {
            Console.Error.WriteLine("server: " + e.Message);
        }
        return 1;
    }
}
