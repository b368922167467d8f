// The article's C# client, over memlink: reads the server's greeting from
// the named mapping, says it is ready, and receives every message with
// ReceiveAsync (a task, waited for by the binding's WaitSet thread). The
// protocol is the one of bindings/cpp/examples/server.cpp.
//
//   mono client.exe NAME LABEL
using System;
using System.Text;
using Memlink;

static class Client
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    static int Main(string[] args)
    {
        if (args.Length != 2)
        {
            Console.Error.WriteLine("usage: client.exe NAME LABEL");
            return 2;
        }
        string name = args[0];
        string label = args[1];
        try
        {
            // Attach first: a broadcast channel delivers what is sent after.
            using (var rx = Receiver.Open(name))
            using (var mapping = SharedMemory.OpenExisting("Global\\" + name + "-map", MemoryAccess.ReadOnly))
            using (var view = mapping.CreateViewAccessor(0, 256))
            using (var up = Sender.Open(name + "-up"))
            {
                byte[] raw = view.Read(0, 256);
                int end = Array.IndexOf(raw, (byte)0);
                string greeting = Encoding.UTF8.GetString(raw, 0, end < 0 ? raw.Length : end);
                up.Send("ready " + label);

                int received = 0;
                while (true)
                {
                    // null when the 30 s passed; GetResult throws what the
                    // receive threw (DisconnectedException when the server goes).
                    byte[] message = rx.ReceiveAsync(Patience).GetAwaiter().GetResult();
                    if (message == null) throw new Exception("nothing within 30 s");
                    string text = Encoding.UTF8.GetString(message);
                    if (text == "bye") break;
                    if (text != "message " + received) throw new Exception("got '" + text + "', expected 'message " + received + "'");
                    received++;
                }
                up.Send("done " + label + " " + received);
                Console.WriteLine("client " + label + ": " + received + " messages; mapping says '" + greeting + "'");
                return 0;
            }
        }
        catch (MemlinkException e)
        {
            Console.Error.WriteLine("client " + label + ": " + e.Code + ": " + e.Message);
        }
        catch (Exception e)
        {
            Console.Error.WriteLine("client " + label + ": " + e.Message);
        }
        return 1;
    }
}
