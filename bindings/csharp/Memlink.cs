// Memlink.cs: C# binding of memlink's C ABI (libmemlink.so), by plain
// P/Invoke. Builds with Mono's mcs and, unchanged, with the .NET SDK.
//
// Named shared memory with a MemoryMappedFile-like shape (SharedMemory,
// SharedMemoryView), named events with an EventWaitHandle-like shape
// (NamedEvent), and zero-copy channels (Sender, Receiver). Every handle is a
// SafeHandle behind an IDisposable; every failure throws a MemlinkException
// (or a subclass) carrying memlink's error code and message.
//
// byte[] + offset/count APIs are always there. Span<byte> APIs need
// System.Memory and unsafe code: compile with MEMLINK_SPAN defined and
// unsafe blocks allowed (.NET SDK: <DefineConstants>MEMLINK_SPAN</DefineConstants>
// and <AllowUnsafeBlocks>true</AllowUnsafeBlocks>).
//
// The native library is found without any environment variable: Mono
// probes the program's directory (tested here); on .NET 5+ a resolver
// looks next to the assembly and in runtimes/<rid>/native/ (the layout the
// package project Memlink.csproj packs; untested here: no .NET SDK).
//
// Zero-copy: dispose every SendLoan and ReceivedMessage (`using`). Until it
// is disposed the endpoint refuses other calls (ErrorCode.State) and keeps
// its native handle alive; disposing the Sender / Receiver ends it first
// (abandoned / released), and a forgotten one is ended by its finalizer.

using System;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;

namespace Memlink
{
    /// <summary>memlink's result codes (ml_result): 1-99 mirror the Rust
    /// library's ErrorCode, 100 and up belong to the C ABI.</summary>
    public enum ErrorCode
    {
        Ok = 0,
        InvalidName = 1,
        InvalidArgument = 2,
        AlreadyExists = 3,
        NotFound = 4,
        PermissionDenied = 5,
        ForeignOwner = 6,
        ZeroSize = 7,
        NoSpace = 8,
        AccessMismatch = 9,
        OutOfRange = 10,
        WrongKind = 11,
        Busy = 12,
        File = 13,
        Unsupported = 14,
        Os = 15,
        Corrupt = 16,
        Disconnected = 17,
        Timeout = 18,
        MessageTooLarge = 19,
        NoFreeSlot = 20,
        NotRecoverable = 21,
        Null = 100,
        Panic = 101,
        State = 102,
        Full = 103,
        Empty = 104,
        BufferTooSmall = 105,
    }

    /// <summary>What every memlink exception carries, whatever .NET
    /// exception it derives from: memlink's code (ML_ERR_*).</summary>
    public interface IMemlinkError
    {
        ErrorCode Code { get; }
    }

    /// <summary>A failure of a memlink call. It is an IOException, as
    /// MemoryMappedFile's failures are; the failures .NET reports with other
    /// types derive from those instead (NotFoundException from
    /// FileNotFoundException, AccessDeniedException from
    /// UnauthorizedAccessException, InvalidArgumentException from
    /// ArgumentException), and all carry the code (IMemlinkError).</summary>
    public class MemlinkException : System.IO.IOException, IMemlinkError
    {
        public ErrorCode Code { get; private set; }

        public MemlinkException(ErrorCode code, string message) : base(message)
        {
            Code = code;
        }

        internal static Exception For(int code)
        {
            var c = (ErrorCode)code;
            string message = Native.LastErrorMessage();
            switch (c)
            {
                case ErrorCode.NotFound: return new NotFoundException(message);
                case ErrorCode.AlreadyExists: return new AlreadyExistsException(message);
                case ErrorCode.PermissionDenied:
                case ErrorCode.ForeignOwner:
                case ErrorCode.AccessMismatch: return new AccessDeniedException(c, message);
                case ErrorCode.Disconnected: return new DisconnectedException(message);
                case ErrorCode.Timeout: return new MemlinkTimeoutException(message);
                case ErrorCode.InvalidName:
                case ErrorCode.InvalidArgument:
                case ErrorCode.Null: return new InvalidArgumentException(c, message);
                default: return new MemlinkException(c, message);
            }
        }
    }

    /// <summary>Open found no object of that name (a FileNotFoundException,
    /// as MemoryMappedFile.OpenExisting throws).</summary>
    public class NotFoundException : System.IO.FileNotFoundException, IMemlinkError
    {
        public ErrorCode Code { get { return ErrorCode.NotFound; } }
        public NotFoundException(string message) : base(message) { }
    }

    /// <summary>Create found the name taken (ERROR_ALREADY_EXISTS; an
    /// IOException, as MemoryMappedFile.CreateNew throws).</summary>
    public class AlreadyExistsException : MemlinkException
    {
        public AlreadyExistsException(string message) : base(ErrorCode.AlreadyExists, message) { }
    }

    /// <summary>Permission denied, another user's object, or an access the
    /// mapping or file does not allow (an UnauthorizedAccessException).</summary>
    public class AccessDeniedException : UnauthorizedAccessException, IMemlinkError
    {
        public ErrorCode Code { get; private set; }
        public AccessDeniedException(ErrorCode code, string message) : base(message) { Code = code; }
    }

    /// <summary>The other side of the channel is gone and everything it sent
    /// was received.</summary>
    public class DisconnectedException : MemlinkException
    {
        public DisconnectedException(string message) : base(ErrorCode.Disconnected, message) { }
    }

    /// <summary>A bounded wait reached its deadline.</summary>
    public class MemlinkTimeoutException : MemlinkException
    {
        public MemlinkTimeoutException(string message) : base(ErrorCode.Timeout, message) { }
    }

    /// <summary>An invalid name or argument (an ArgumentException).</summary>
    public class InvalidArgumentException : ArgumentException, IMemlinkError
    {
        public ErrorCode Code { get; private set; }
        public InvalidArgumentException(ErrorCode code, string message) : base(message) { Code = code; }
    }

    /// <summary>How a mapping or view may be used (MemoryMappedFileAccess).</summary>
    public enum MemoryAccess
    {
        ReadOnly = 1,
        ReadWrite = 2,
        CopyOnWrite = 3,
    }

    /// <summary>What a channel connects.</summary>
    public enum ChannelKind
    {
        OneToOne = 1,
        ManyToOne = 2,
        Broadcast = 3,
    }

    /// <summary>How blocked channel calls wait.</summary>
    public enum WaitStrategy
    {
        Spin = 1,
        SpinThenPark = 2,
        Park = 3,
    }

    /// <summary>Why a source of a WaitSet is ready (ML_READY_*).</summary>
    public enum Readiness
    {
        /// <summary>A receiver has a message.</summary>
        Readable = 1,
        /// <summary>A sender has room for the size it was added with.</summary>
        Writable = 2,
        /// <summary>The endpoint's peers are gone.</summary>
        Disconnected = 3,
        /// <summary>A deadline passed.</summary>
        Deadline = 4,
        /// <summary>An event was set (or notified); an auto-reset one's
        /// signal was taken by the report.</summary>
        Signaled = 5,
        /// <summary>An interval's period came round.</summary>
        Tick = 6,
        /// <summary>A peer of a watched endpoint closed or died.</summary>
        PeerDied = 7,
    }

    /// <summary>What a named mapping holds, as Library.Identify says
    /// (ML_OBJECT_*).</summary>
    public enum ObjectKind
    {
        /// <summary>A channel (Sender / Receiver).</summary>
        Channel = 1,
        /// <summary>A NamedEvent.</summary>
        Event = 2,
        /// <summary>A WaitSet's doorbell: the named word a wait set sleeps
        /// on (removed with it).</summary>
        Doorbell = 3,
        /// <summary>A memlink object of a kind newer than this library.</summary>
        Unknown = 4,
        /// <summary>Plain bytes without a memlink header (SharedMemory or
        /// another program's shared memory).</summary>
        Mapping = 5,
    }

    internal static class Native
    {
        const string Lib = "memlink";

#if NET5_0_OR_GREATER
        // .NET: find the native library next to the assembly or in the
        // package layout runtimes/<rid>/native/, without LD_LIBRARY_PATH.
        // (Mono, which built and tested this binding here, probes the
        // assembly's directory by itself; this part needs the .NET SDK,
        // which was not available: it is untested.)
        static Native()
        {
            NativeLibrary.SetDllImportResolver(typeof(Native).Assembly, (name, assembly, path) =>
            {
                if (name != Lib) return IntPtr.Zero;
                string dir = System.IO.Path.GetDirectoryName(assembly.Location);
                if (string.IsNullOrEmpty(dir)) dir = AppContext.BaseDirectory;
                string file = OperatingSystem.IsWindows() ? "memlink.dll"
                    : OperatingSystem.IsMacOS() ? "libmemlink.dylib" : "libmemlink.so";
                foreach (var candidate in new[] {
                    System.IO.Path.Combine(dir, file),
                    System.IO.Path.Combine(dir, "runtimes", RuntimeInformation.RuntimeIdentifier, "native", file) })
                {
                    IntPtr loaded;
                    if (System.IO.File.Exists(candidate) && NativeLibrary.TryLoad(candidate, out loaded)) return loaded;
                }
                return IntPtr.Zero;
            });
        }
#endif

        [DllImport(Lib)] internal static extern int ml_last_error_message(byte[] buf, UIntPtr len, out UIntPtr outLen);
        [DllImport(Lib)] internal static extern int ml_last_error_code();
        [DllImport(Lib)] internal static extern IntPtr ml_version();
        [DllImport(Lib)] internal static extern int ml_identify(byte[] name, out int kind);

        [DllImport(Lib)] internal static extern int ml_mapping_create(byte[] name, ulong size, out MappingHandle mapping);
        [DllImport(Lib)] internal static extern int ml_mapping_open(byte[] name, int access, out MappingHandle mapping);
        [DllImport(Lib)] internal static extern int ml_mapping_open_or_create(byte[] name, ulong size, out MappingHandle mapping, out int created);
        [DllImport(Lib)] internal static extern int ml_mapping_remove(byte[] name);
        [DllImport(Lib)] internal static extern void ml_mapping_close(IntPtr mapping);
        [DllImport(Lib)] internal static extern int ml_mapping_size(MappingHandle mapping, out ulong size);
        [DllImport(Lib)] internal static extern int ml_mapping_name(MappingHandle mapping, byte[] buf, UIntPtr len, out UIntPtr outLen);
        [DllImport(Lib)] internal static extern int ml_mapping_os_name(MappingHandle mapping, byte[] buf, UIntPtr len, out UIntPtr outLen);
        [DllImport(Lib)] internal static extern int ml_mapping_view_with_access(MappingHandle mapping, ulong offset, ulong len, int access, out ViewHandle view);
        [DllImport(Lib)] internal static extern int ml_mapping_view(MappingHandle mapping, ulong offset, ulong len, out ViewHandle view);

        [DllImport(Lib)] internal static extern void ml_view_close(IntPtr view);
        [DllImport(Lib)] internal static extern int ml_view_len(ViewHandle view, out UIntPtr len);
        [DllImport(Lib)] internal static extern int ml_view_ptr(ViewHandle view, out IntPtr ptr);
        [DllImport(Lib)] internal static extern int ml_view_read(ViewHandle view, UIntPtr offset, byte[] buf, UIntPtr len);
        [DllImport(Lib)] internal static extern int ml_view_read(ViewHandle view, UIntPtr offset, IntPtr buf, UIntPtr len);
        [DllImport(Lib)] internal static extern int ml_view_write(ViewHandle view, UIntPtr offset, byte[] data, UIntPtr len);
        [DllImport(Lib)] internal static extern int ml_view_write(ViewHandle view, UIntPtr offset, IntPtr data, UIntPtr len);
        [DllImport(Lib)] internal static extern int ml_view_flush(ViewHandle view);
        [DllImport(Lib)] internal static extern int ml_view_flush_async(ViewHandle view);
        [DllImport(Lib)] internal static extern int ml_view_flush_range(ViewHandle view, UIntPtr offset, UIntPtr len);
        [DllImport(Lib)] internal static extern int ml_view_load_u32(ViewHandle view, UIntPtr offset, out uint value);
        [DllImport(Lib)] internal static extern int ml_view_store_u32(ViewHandle view, UIntPtr offset, uint value);
        [DllImport(Lib)] internal static extern int ml_view_load_u64(ViewHandle view, UIntPtr offset, out ulong value);
        [DllImport(Lib)] internal static extern int ml_view_store_u64(ViewHandle view, UIntPtr offset, ulong value);

        [DllImport(Lib)] internal static extern int ml_mapping_options_new(out MappingOptionsHandle options);
        [DllImport(Lib)] internal static extern void ml_mapping_options_free(IntPtr options);
        [DllImport(Lib)] internal static extern int ml_mapping_options_set_size(MappingOptionsHandle o, ulong size);
        [DllImport(Lib)] internal static extern int ml_mapping_options_set_access(MappingOptionsHandle o, int access);
        [DllImport(Lib)] internal static extern int ml_mapping_options_set_mode(MappingOptionsHandle o, uint mode);
        [DllImport(Lib)] internal static extern int ml_mapping_options_set_persistent(MappingOptionsHandle o, int persistent);
        [DllImport(Lib)] internal static extern int ml_mapping_options_set_allow_foreign_owner(MappingOptionsHandle o, int allow);
        [DllImport(Lib)] internal static extern int ml_mapping_options_set_populate(MappingOptionsHandle o, int populate);
        [DllImport(Lib)] internal static extern int ml_mapping_options_set_lock_in_memory(MappingOptionsHandle o, int lockPages);
        [DllImport(Lib)] internal static extern int ml_mapping_options_set_huge_pages(MappingOptionsHandle o, int huge);
        [DllImport(Lib)] internal static extern int ml_mapping_options_set_file(MappingOptionsHandle o, byte[] path);
        [DllImport(Lib)] internal static extern int ml_mapping_options_set_busy_timeout(MappingOptionsHandle o, long ms);
        [DllImport(Lib)] internal static extern int ml_mapping_options_create(MappingOptionsHandle o, byte[] name, out MappingHandle mapping);
        [DllImport(Lib)] internal static extern int ml_mapping_options_open(MappingOptionsHandle o, byte[] name, out MappingHandle mapping);
        [DllImport(Lib)] internal static extern int ml_mapping_options_open_or_create(MappingOptionsHandle o, byte[] name, out MappingHandle mapping, out int created);
        [DllImport(Lib)] internal static extern int ml_mapping_mode(MappingHandle mapping, out uint mode);
        [DllImport(Lib)] internal static extern int ml_mapping_owner(MappingHandle mapping, out uint owner);
        [DllImport(Lib)] internal static extern int ml_mapping_is_persistent(MappingHandle mapping, out int persistent);
        [DllImport(Lib)] internal static extern int ml_mapping_access(MappingHandle mapping, out int access);
        [DllImport(Lib)] internal static extern int ml_view_access(ViewHandle view, out int access);

        [DllImport(Lib)] internal static extern int ml_mapping_view_with_access(MappingHandle mapping, ulong offset, ulong len, int access, out IntPtr view);
        [DllImport(Lib)] internal static extern int ml_view_len(IntPtr view, out UIntPtr len);
        [DllImport(Lib)] internal static extern int ml_view_ptr(IntPtr view, out IntPtr ptr);

        [DllImport(Lib)] internal static extern int ml_seqlock_init(MappingHandle mapping, ulong offset, IntPtr initial, UIntPtr len, out SeqLockHandle lk);
        [DllImport(Lib)] internal static extern int ml_seqlock_open(MappingHandle mapping, ulong offset, UIntPtr len, out SeqLockHandle lk);
        [DllImport(Lib)] internal static extern void ml_seqlock_close(IntPtr lk);
        [DllImport(Lib)] internal static extern int ml_seqlock_write(SeqLockHandle lk, IntPtr data, UIntPtr len);
        [DllImport(Lib)] internal static extern int ml_seqlock_read(SeqLockHandle lk, IntPtr buf, UIntPtr len, long timeoutMs);
        [DllImport(Lib)] internal static extern int ml_seqlock_version(SeqLockHandle lk, out ulong version);

        [DllImport(Lib)] internal static extern int ml_mutex_init(MappingHandle mapping, ulong offset, out MutexHandle mutex);
        [DllImport(Lib)] internal static extern int ml_mutex_open(MappingHandle mapping, ulong offset, out MutexHandle mutex);
        [DllImport(Lib)] internal static extern void ml_mutex_close(IntPtr mutex);
        [DllImport(Lib)] internal static extern int ml_mutex_lock(MutexHandle mutex, long timeoutMs, out int ownerDied);
        [DllImport(Lib)] internal static extern int ml_mutex_mark_consistent(MutexHandle mutex);
        [DllImport(Lib)] internal static extern int ml_mutex_unlock(MutexHandle mutex);

        [DllImport(Lib)] internal static extern int ml_event_create(byte[] name, int kind, out EventHandle ev);
        [DllImport(Lib)] internal static extern int ml_event_open(byte[] name, out EventHandle ev);
        [DllImport(Lib)] internal static extern int ml_event_open_or_create(byte[] name, int kind, out EventHandle ev, out int created);
        [DllImport(Lib)] internal static extern void ml_event_close(IntPtr ev);
        [DllImport(Lib)] internal static extern int ml_event_set(EventHandle ev);
        [DllImport(Lib)] internal static extern int ml_event_reset(EventHandle ev);
        [DllImport(Lib)] internal static extern int ml_event_notify_one(EventHandle ev);
        [DllImport(Lib)] internal static extern int ml_event_notify_all(EventHandle ev);
        [DllImport(Lib)] internal static extern int ml_event_is_set(EventHandle ev, out int value);
        [DllImport(Lib)] internal static extern int ml_event_wait(EventHandle ev, long timeoutMs);

        [DllImport(Lib)] internal static extern int ml_channel_options_new(out ChannelOptionsHandle options);
        [DllImport(Lib)] internal static extern void ml_channel_options_free(IntPtr options);
        [DllImport(Lib)] internal static extern int ml_channel_options_set_kind(ChannelOptionsHandle o, int kind);
        [DllImport(Lib)] internal static extern int ml_channel_options_set_capacity(ChannelOptionsHandle o, ulong bytes);
        [DllImport(Lib)] internal static extern int ml_channel_options_set_max_message(ChannelOptionsHandle o, uint bytes);
        [DllImport(Lib)] internal static extern int ml_channel_options_set_max_senders(ChannelOptionsHandle o, uint n);
        [DllImport(Lib)] internal static extern int ml_channel_options_set_max_receivers(ChannelOptionsHandle o, uint n);
        [DllImport(Lib)] internal static extern int ml_channel_options_set_lossy(ChannelOptionsHandle o, int lossy);
        [DllImport(Lib)] internal static extern int ml_channel_options_set_wait(ChannelOptionsHandle o, int strategy, uint spinUs);
        [DllImport(Lib)] internal static extern int ml_channel_options_set_mode(ChannelOptionsHandle o, uint mode);
        [DllImport(Lib)] internal static extern int ml_channel_options_set_persistent(ChannelOptionsHandle o, int persistent);
        [DllImport(Lib)] internal static extern int ml_channel_options_set_allow_foreign_owner(ChannelOptionsHandle o, int allow);

        [DllImport(Lib)] internal static extern int ml_sender_create(byte[] name, ChannelOptionsHandle options, out SenderHandle sender);
        [DllImport(Lib)] internal static extern int ml_sender_open(byte[] name, ChannelOptionsHandle options, out SenderHandle sender);
        [DllImport(Lib)] internal static extern int ml_sender_close(IntPtr sender);
        [DllImport(Lib)] internal static extern int ml_sender_send_timeout(SenderHandle sender, byte[] data, UIntPtr len, long timeoutMs);
        [DllImport(Lib)] internal static extern int ml_sender_send_timeout(SenderHandle sender, IntPtr data, UIntPtr len, long timeoutMs);
        [DllImport(Lib)] internal static extern int ml_sender_try_send(SenderHandle sender, byte[] data, UIntPtr len);
        [DllImport(Lib)] internal static extern int ml_sender_loan(SenderHandle sender, UIntPtr len, long timeoutMs, out IntPtr ptr);
        [DllImport(Lib)] internal static extern int ml_sender_try_loan(SenderHandle sender, UIntPtr len, out IntPtr ptr);
        // A SendLoan / ReceivedMessage holds a reference on its endpoint's
        // SafeHandle (DangerousAddRef) and passes the raw pointer: the
        // endpoint may be disposed meanwhile, its native handle may not.
        [DllImport(Lib)] internal static extern int ml_sender_commit(IntPtr sender, UIntPtr len);
        [DllImport(Lib)] internal static extern int ml_sender_abandon(IntPtr sender);
        [DllImport(Lib)] internal static extern int ml_sender_is_connected(SenderHandle sender, out int value);
        [DllImport(Lib)] internal static extern int ml_sender_max_message(SenderHandle sender, out UIntPtr value);

        [DllImport(Lib)] internal static extern int ml_receiver_create(byte[] name, ChannelOptionsHandle options, out ReceiverHandle receiver);
        [DllImport(Lib)] internal static extern int ml_receiver_open(byte[] name, ChannelOptionsHandle options, out ReceiverHandle receiver);
        [DllImport(Lib)] internal static extern int ml_receiver_close(IntPtr receiver);
        [DllImport(Lib)] internal static extern int ml_receiver_recv_timeout(ReceiverHandle receiver, byte[] buf, UIntPtr cap, out UIntPtr len, long timeoutMs);
        [DllImport(Lib)] internal static extern int ml_receiver_recv_timeout(ReceiverHandle receiver, IntPtr buf, UIntPtr cap, out UIntPtr len, long timeoutMs);
        [DllImport(Lib)] internal static extern int ml_receiver_try_recv(ReceiverHandle receiver, byte[] buf, UIntPtr cap, out UIntPtr len);
        [DllImport(Lib)] internal static extern int ml_receiver_borrow(ReceiverHandle receiver, long timeoutMs, out IntPtr ptr, out UIntPtr len);
        [DllImport(Lib)] internal static extern int ml_receiver_try_borrow(ReceiverHandle receiver, out IntPtr ptr, out UIntPtr len);
        [DllImport(Lib)] internal static extern int ml_receiver_release(IntPtr receiver);
        [DllImport(Lib)] internal static extern int ml_receiver_is_connected(ReceiverHandle receiver, out int value);

        [DllImport(Lib)] internal static extern int ml_waitset_new(out WaitSetHandle set);
        [DllImport(Lib)] internal static extern void ml_waitset_free(IntPtr set);
        // The endpoints are passed raw: a WaitSet holds a reference
        // (DangerousAddRef) on each one's SafeHandle while it is in the set.
        [DllImport(Lib)] internal static extern int ml_waitset_add_receiver(WaitSetHandle set, IntPtr receiver, out UIntPtr token);
        [DllImport(Lib)] internal static extern int ml_waitset_add_sender(WaitSetHandle set, IntPtr sender, UIntPtr len, out UIntPtr token);
        [DllImport(Lib)] internal static extern int ml_waitset_add_deadline(WaitSetHandle set, long afterMs, out UIntPtr token);
        [DllImport(Lib)] internal static extern int ml_waitset_add_interval(WaitSetHandle set, long periodMs, out UIntPtr token);
        [DllImport(Lib)] internal static extern int ml_waitset_add_event(WaitSetHandle set, IntPtr ev, out UIntPtr token);
        [DllImport(Lib)] internal static extern int ml_waitset_add_peer_death(WaitSetHandle set, IntPtr receiver, IntPtr sender, out UIntPtr token);
        [DllImport(Lib)] internal static extern int ml_waitset_clear(WaitSetHandle set);
        [DllImport(Lib)] internal static extern int ml_waitset_wait(WaitSetHandle set, long timeoutMs, [Out] NativeReady[] ready, UIntPtr cap, out UIntPtr count);
        [DllImport(Lib)] internal static extern int ml_receiver_max_message(ReceiverHandle receiver, out UIntPtr value);
        [DllImport(Lib)] internal static extern int ml_receiver_take_missed(ReceiverHandle receiver, out ulong value);

        /// <summary>The calling thread's last error message.</summary>
        internal static string LastErrorMessage()
        {
            UIntPtr len;
            ml_last_error_message(null, UIntPtr.Zero, out len);
            var buf = new byte[(int)len.ToUInt64() + 1];
            ml_last_error_message(buf, (UIntPtr)buf.Length, out len);
            return Encoding.UTF8.GetString(buf, 0, (int)Math.Min(len.ToUInt64(), (ulong)(buf.Length - 1)));
        }

        internal static void Check(int result)
        {
            if (result != 0) throw MemlinkException.For(result);
        }

        /// <summary>True on success, false on `expected`; throws otherwise.</summary>
        internal static bool CheckOr(int result, ErrorCode expected)
        {
            if (result == 0) return true;
            if (result == (int)expected) return false;
            throw MemlinkException.For(result);
        }

        /// <summary>A NUL-terminated UTF-8 copy of `s` (portable: no
        /// runtime-specific string marshalling).</summary>
        internal static byte[] Utf8z(string s)
        {
            if (s == null) throw new ArgumentNullException("name");
            var bytes = new byte[Encoding.UTF8.GetByteCount(s) + 1];
            Encoding.UTF8.GetBytes(s, 0, s.Length, bytes, 0);
            return bytes;
        }

        internal static long Millis(TimeSpan timeout)
        {
            if (timeout == Timeout.InfiniteTimeSpan) return -1;
            if (timeout < TimeSpan.Zero) throw new ArgumentOutOfRangeException("timeout");
            return (long)timeout.TotalMilliseconds;
        }

        internal static void CheckRange(byte[] array, int offset, int count)
        {
            if (array == null) throw new ArgumentNullException("array");
            if (offset < 0 || count < 0 || offset > array.Length - count)
                throw new ArgumentOutOfRangeException("offset/count", "offset " + offset + " + count " + count + " is outside an array of " + array.Length);
        }

        internal delegate int StringGetter(MappingHandle m, byte[] buf, UIntPtr len, out UIntPtr outLen);

        internal static string StringOut(StringGetter get, MappingHandle m)
        {
            UIntPtr len;
            int r = get(m, null, UIntPtr.Zero, out len);
            if (r != 0 && r != (int)ErrorCode.BufferTooSmall) Check(r);
            var buf = new byte[(int)len.ToUInt64() + 1];
            Check(get(m, buf, (UIntPtr)buf.Length, out len));
            return Encoding.UTF8.GetString(buf, 0, (int)len.ToUInt64());
        }
    }

    // SafeHandles: the runtime closes each exactly once, even when Dispose is
    // forgotten.
    internal abstract class MemlinkHandle : SafeHandle
    {
        protected MemlinkHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
    }

    internal sealed class MappingHandle : MemlinkHandle
    {
        protected override bool ReleaseHandle() { Native.ml_mapping_close(handle); return true; }
    }

    internal sealed class ViewHandle : MemlinkHandle
    {
        protected override bool ReleaseHandle() { Native.ml_view_close(handle); return true; }
    }

    internal sealed class MappingOptionsHandle : MemlinkHandle
    {
        protected override bool ReleaseHandle() { Native.ml_mapping_options_free(handle); return true; }
    }

    internal sealed class SeqLockHandle : MemlinkHandle
    {
        protected override bool ReleaseHandle() { Native.ml_seqlock_close(handle); return true; }
    }

    internal sealed class MutexHandle : MemlinkHandle
    {
        protected override bool ReleaseHandle() { Native.ml_mutex_close(handle); return true; }
    }

    // The bytes of a native view as a SafeBuffer, for CreateViewStream (as
    // .NET's MemoryMappedViewStream is an UnmanagedMemoryStream over one).
    // It owns its own native view: the memory stays mapped until the buffer
    // is released, after any operation in flight (SafeHandle counting).
    internal sealed class ViewBuffer : SafeBuffer
    {
        private readonly IntPtr view;

        internal ViewBuffer(IntPtr view, IntPtr data, ulong length) : base(true)
        {
            this.view = view;
            SetHandle(data);
            Initialize(length);
        }

        protected override bool ReleaseHandle() { Native.ml_view_close(view); return true; }
    }

    internal sealed class EventHandle : MemlinkHandle
    {
        protected override bool ReleaseHandle() { Native.ml_event_close(handle); return true; }
    }

    internal sealed class WaitSetHandle : MemlinkHandle
    {
        protected override bool ReleaseHandle() { Native.ml_waitset_free(handle); return true; }
    }

    internal sealed class ChannelOptionsHandle : MemlinkHandle
    {
        protected override bool ReleaseHandle() { Native.ml_channel_options_free(handle); return true; }
    }

    // The C ABI refuses (ML_ERR_STATE) to close an endpoint that another
    // thread is inside a call on. The runtime never releases a SafeHandle
    // while a P/Invoke holding it runs (Dispose then waits for the last such
    // call), so this should not happen; if it does, ReleaseHandle says so
    // (false) and the handle is leaked rather than freed under that call.
    internal sealed class SenderHandle : MemlinkHandle
    {
        protected override bool ReleaseHandle()
        {
            return Native.ml_sender_close(handle) == 0;
        }
    }

    internal sealed class ReceiverHandle : MemlinkHandle
    {
        protected override bool ReleaseHandle()
        {
            return Native.ml_receiver_close(handle) == 0;
        }
    }

    /// <summary>What SendLoan and ReceivedMessage share: a reference on
    /// their endpoint's SafeHandle (DangerousAddRef), so that the native
    /// endpoint, and the ring memory they point into, outlive them even if
    /// the Sender / Receiver is disposed first; and whether the loan or
    /// borrow is still outstanding.</summary>
    public abstract class Lent : IDisposable
    {
        private readonly SafeHandle endpoint;
        private readonly object sync = new object();
        private bool referenced;
        private string ended;
        /// <summary>The ring memory; valid while not ended.</summary>
        protected readonly IntPtr pointer;
        protected readonly int length;

        internal Lent(SafeHandle endpoint, IntPtr pointer, int length)
        {
            this.endpoint = endpoint;
            this.pointer = pointer;
            this.length = length;
            // The handle was just used for the loan/borrow by this thread:
            // if the Sender/Receiver was disposed meanwhile, this throws
            // and the C ABI ends the loan/borrow when it closes.
            endpoint.DangerousAddRef(ref referenced);
        }

        /// <summary>The bytes' place in the ring: valid only until Dispose
        /// (or Commit), and not past the endpoint's Dispose.</summary>
        public IntPtr Pointer { get { return pointer; } }
        public int Length { get { return length; } }

        /// <summary>False once committed, abandoned, released or disposed
        /// (also by disposing the Sender / Receiver).</summary>
        public bool IsOutstanding { get { lock (sync) return ended == null; } }

        /// <summary>Runs `use` while the loan/borrow is outstanding (the
        /// memory is the caller's); ObjectDisposedException after it ended.</summary>
        internal void Use(Action use)
        {
            lock (sync)
            {
                ThrowIfEnded();
                use();
            }
        }

        internal void ThrowIfEnded()
        {
            lock (sync)
                if (ended != null) throw new ObjectDisposedException(GetType().Name, "the " + What + " was " + ended);
        }

        internal abstract string What { get; }

        /// <summary>Ends it with `finish(raw endpoint)` (committing, say):
        /// a failure keeps it outstanding.</summary>
        internal void End(Func<IntPtr, int> finish, string how)
        {
            lock (sync)
            {
                ThrowIfEnded();
                Native.Check(finish(endpoint.DangerousGetHandle()));
                Finish(how);
            }
        }

        /// <summary>Ends it the default way (abandon / release), quietly.</summary>
        internal abstract int Drop(IntPtr endpoint);

        private void Finish(string how)
        {
            ended = how;
            if (referenced)
            {
                referenced = false;
                // May close the endpoint now, if it was disposed meanwhile.
                endpoint.DangerousRelease();
            }
        }

        internal void Drop(string how)
        {
            lock (sync)
            {
                if (ended != null) return;
                // The AddRef keeps the native endpoint alive: the raw
                // pointer is valid even after the endpoint's Dispose.
                // Without it (the constructor threw: the endpoint was
                // closed, which ended the loan/borrow) it may be freed.
                if (referenced) Drop(endpoint.DangerousGetHandle());
                Finish(how);
            }
        }

        /// <summary>Abandons the loan / releases the message, if it is
        /// still outstanding.</summary>
        public void Dispose()
        {
            Drop("disposed");
            GC.SuppressFinalize(this);
        }

        // Forgotten without Dispose: end it, or the endpoint refuses every
        // call (State) and its native handle is never closed. The AddRef
        // means the native endpoint cannot be freed before this runs.
        ~Lent()
        {
            try
            {
                Drop("finalized");
            }
            catch
            {
            }
        }
    }

    /// <summary>Library-wide facts and calls not tied to one object.</summary>
    public static class Library
    {
        /// <summary>The version of libmemlink in use.</summary>
        public static string Version
        {
            get { return Marshal.PtrToStringAnsi(Native.ml_version()); }
        }

        /// <summary>What the mapping `name` holds, told from its first
        /// bytes. It is opened read-only for a moment (another user's too)
        /// without counting as one of its holders: looking never keeps an
        /// object alive. Throws NotFoundException if there is no such name,
        /// InvalidArgumentException (InvalidName) for a name that is not one.</summary>
        public static ObjectKind Identify(string name)
        {
            int kind;
            Native.Check(Native.ml_identify(Native.Utf8z(name), out kind));
            return (ObjectKind)kind;
        }
    }

    /// <summary>A named mapping: what MemoryMappedFile is on Windows, by
    /// name on Linux too. `Global\NAME` is machine-wide (the POSIX object
    /// /NAME); `NAME` or `Local\NAME` is per user. It lives until its last
    /// holder, in any process, lets go or dies.</summary>
    public sealed class SharedMemory : IDisposable
    {
        private readonly MappingHandle handle;

        private SharedMemory(MappingHandle handle)
        {
            this.handle = handle;
        }

        /// <summary>Creates a zero-filled mapping of `capacity` bytes; throws
        /// AlreadyExistsException if the name is taken.</summary>
        public static SharedMemory CreateNew(string name, long capacity)
        {
            MappingHandle h;
            Native.Check(Native.ml_mapping_create(Native.Utf8z(name), checked((ulong)capacity), out h));
            return new SharedMemory(h);
        }

        /// <summary>Opens an existing mapping; throws NotFoundException.</summary>
        public static SharedMemory OpenExisting(string name, MemoryAccess access = MemoryAccess.ReadWrite)
        {
            MappingHandle h;
            Native.Check(Native.ml_mapping_open(Native.Utf8z(name), (int)access, out h));
            return new SharedMemory(h);
        }

        /// <summary>Opens the mapping, or creates it with `capacity` bytes.</summary>
        public static SharedMemory CreateOrOpen(string name, long capacity)
        {
            bool created;
            return CreateOrOpen(name, capacity, out created);
        }

        /// <summary>Opens the mapping, or creates it; `createdNew` says which
        /// (the article's ERROR_ALREADY_EXISTS).</summary>
        public static SharedMemory CreateOrOpen(string name, long capacity, out bool createdNew)
        {
            MappingHandle h;
            int created;
            Native.Check(Native.ml_mapping_open_or_create(Native.Utf8z(name), checked((ulong)capacity), out h, out created));
            createdNew = created != 0;
            return new SharedMemory(h);
        }

        /// <summary>Maps a file (MemoryMappedFile.CreateFromFile). `mode`
        /// says what to do with the file as FileStream would (Open: it must
        /// exist; CreateNew: it must not; Create / Truncate: emptied first;
        /// OpenOrCreate). `capacity` 0 means the file's size (a zero-length
        /// file then fails, ERROR_FILE_INVALID); a larger one grows the
        /// file. `mapName` is the memlink name others open it by; null makes
        /// a unique one. A ReadOnly mapping of a file needs only read
        /// permission on it.</summary>
        public static SharedMemory CreateFromFile(string path, System.IO.FileMode mode = System.IO.FileMode.OpenOrCreate,
            string mapName = null, long capacity = 0, MemoryAccess access = MemoryAccess.ReadWrite)
        {
            if (path == null) throw new ArgumentNullException("path");
            if (capacity < 0) throw new ArgumentOutOfRangeException("capacity");
            bool exists = System.IO.File.Exists(path);
            switch (mode)
            {
                case System.IO.FileMode.Open:
                case System.IO.FileMode.Truncate:
                    if (!exists) throw new System.IO.FileNotFoundException("no file " + path, path);
                    break;
                case System.IO.FileMode.CreateNew:
                    if (exists) throw new System.IO.IOException("the file " + path + " already exists");
                    break;
                case System.IO.FileMode.Append:
                    throw new ArgumentException("FileMode.Append cannot be used to map a file", "mode");
            }
            if (exists && (mode == System.IO.FileMode.Create || mode == System.IO.FileMode.Truncate))
                using (System.IO.File.Open(path, System.IO.FileMode.Truncate)) { }
            return new SharedMemoryOptions { Capacity = capacity, Access = access, File = path }
                .Create(mapName ?? UniqueName());
        }

        /// <summary>Maps the file of an open FileStream; capacity 0 means the
        /// file's size. memlink maps the file by its path (fileStream.Name),
        /// so the stream may be closed afterwards: it is unless
        /// `leaveOpen`.</summary>
        public static SharedMemory CreateFromFile(System.IO.FileStream fileStream, string mapName, long capacity,
            MemoryAccess access, bool leaveOpen)
        {
            if (fileStream == null) throw new ArgumentNullException("fileStream");
            fileStream.Flush();
            try
            {
                return CreateFromFile(fileStream.Name, System.IO.FileMode.Open, mapName, capacity, access);
            }
            finally
            {
                if (!leaveOpen) fileStream.Dispose();
            }
        }

        private static int unique;

        private static string UniqueName()
        {
            return "memlink-file-" + System.Diagnostics.Process.GetCurrentProcess().Id + "-"
                + Interlocked.Increment(ref unique) + "-" + DateTime.UtcNow.Ticks;
        }

        internal static SharedMemory Wrap(MappingHandle h) { return new SharedMemory(h); }

        /// <summary>The permission bits (0600 unless made otherwise).</summary>
        public uint Mode
        {
            get { uint v; Native.Check(Native.ml_mapping_mode(handle, out v)); return v; }
        }

        /// <summary>The user id that owns the mapping.</summary>
        public uint Owner
        {
            get { uint v; Native.Check(Native.ml_mapping_owner(handle, out v)); return v; }
        }

        /// <summary>Whether it stays after its last holder goes, until
        /// Remove.</summary>
        public bool IsPersistent
        {
            get { int v; Native.Check(Native.ml_mapping_is_persistent(handle, out v)); return v != 0; }
        }

        /// <summary>The access the mapping was opened with.</summary>
        public MemoryAccess Access
        {
            get { int v; Native.Check(Native.ml_mapping_access(handle, out v)); return (MemoryAccess)v; }
        }

        internal MappingHandle Handle { get { return handle; } }

        /// <summary>A stream over `size` bytes from `offset` (0: to the end),
        /// like MemoryMappedFile.CreateViewStream. A read-only view gives a
        /// stream that cannot be written; copy-on-write writes stay in this
        /// process. Other processes may change the bytes meanwhile: use a
        /// RobustMutex or a NamedEvent to say who writes when.</summary>
        public System.IO.UnmanagedMemoryStream CreateViewStream(long offset = 0, long size = 0, MemoryAccess access = 0)
        {
            if (access == 0) access = Access;
            IntPtr view;
            Native.Check(Native.ml_mapping_view_with_access(handle, checked((ulong)offset), checked((ulong)size), (int)access, out view));
            ViewBuffer buffer;
            try
            {
                IntPtr data;
                UIntPtr len;
                Native.Check(Native.ml_view_ptr(view, out data));
                Native.Check(Native.ml_view_len(view, out len));
                buffer = new ViewBuffer(view, data, len.ToUInt64());
            }
            catch
            {
                Native.ml_view_close(view);
                throw;
            }
            var fileAccess = access == MemoryAccess.ReadOnly ? System.IO.FileAccess.Read : System.IO.FileAccess.ReadWrite;
            return new ViewStream(buffer, fileAccess);
        }

        // An UnmanagedMemoryStream that releases its view when disposed.
        private sealed class ViewStream : System.IO.UnmanagedMemoryStream
        {
            private readonly ViewBuffer buffer;

            internal ViewStream(ViewBuffer buffer, System.IO.FileAccess access)
                : base(buffer, 0, (long)buffer.ByteLength, access)
            {
                this.buffer = buffer;
            }

            protected override void Dispose(bool disposing)
            {
                base.Dispose(disposing);
                if (disposing) buffer.Dispose();
            }
        }

        /// <summary>Removes the name now; holders keep their memory.</summary>
        public static void Remove(string name)
        {
            Native.Check(Native.ml_mapping_remove(Native.Utf8z(name)));
        }

        /// <summary>The size in bytes.</summary>
        public long Capacity
        {
            get
            {
                ulong size;
                Native.Check(Native.ml_mapping_size(handle, out size));
                return checked((long)size);
            }
        }

        /// <summary>The memlink name, such as `Local\orders`.</summary>
        public string Name { get { return Native.StringOut(Native.ml_mapping_name, handle); } }

        /// <summary>The OS name (`/NAME` for `Global\NAME` on Linux).</summary>
        public string OsName { get { return Native.StringOut(Native.ml_mapping_os_name, handle); } }

        /// <summary>A view of `size` bytes from `offset` (0: to the end),
        /// like MemoryMappedFile.CreateViewAccessor.</summary>
        public SharedMemoryView CreateViewAccessor(long offset = 0, long size = 0)
        {
            ViewHandle v;
            Native.Check(Native.ml_mapping_view(handle, checked((ulong)offset), checked((ulong)size), out v));
            return new SharedMemoryView(v);
        }

        /// <summary>A view with its own access (read-only, copy-on-write), as
        /// MemoryMappedFile.CreateViewAccessor(offset, size, access).</summary>
        public SharedMemoryView CreateViewAccessor(long offset, long size, MemoryAccess access)
        {
            ViewHandle v;
            Native.Check(Native.ml_mapping_view_with_access(handle, checked((ulong)offset), checked((ulong)size), (int)access, out v));
            return new SharedMemoryView(v);
        }

        public void Dispose()
        {
            handle.Dispose();
        }
    }

    /// <summary>Every way to make or open a mapping: size, access, mode,
    /// lifetime, another user's mapping, prefault / lock / huge pages, a
    /// backing file, how long to wait for a busy name. Set the properties, then Create, Open or
    /// CreateOrOpen.</summary>
    public sealed class SharedMemoryOptions
    {
        /// <summary>The size in bytes for Create; for a file, 0 means the
        /// file's size.</summary>
        public long Capacity { get; set; }
        /// <summary>The access to open with (and of views by default).</summary>
        public MemoryAccess Access { get; set; }
        /// <summary>Permission bits for Create (at most 0777; 0 leaves the
        /// default, 0600).</summary>
        public uint Mode { get; set; }
        /// <summary>The mapping stays after its last holder goes, until
        /// SharedMemory.Remove.</summary>
        public bool Persistent { get; set; }
        /// <summary>Accept a mapping that another user created.</summary>
        public bool AllowForeignOwner { get; set; }
        /// <summary>Fault in every page when a view is mapped.</summary>
        public bool Populate { get; set; }
        /// <summary>Lock the pages of every view in RAM.</summary>
        public bool LockInMemory { get; set; }
        /// <summary>Huge pages: Create fails (ErrorCode.Unsupported) where
        /// the OS cannot give them (on Linux, /dev/shm needs huge=advise), rather
        /// than silently giving small pages; a hint for Open.</summary>
        public bool HugePages { get; set; }
        /// <summary>Back the mapping with this file instead of memory.</summary>
        public string File { get; set; }
        /// <summary>How long Open waits for a name that another process is
        /// removing at that moment, or holds locked, before it throws
        /// MemlinkException (ErrorCode.Busy); null, the default, is the
        /// library's 2 s. TimeSpan.Zero: never wait. A lock held longer than
        /// a removal takes (250 ms) is somebody else's, and Open then goes
        /// ahead without it; with a shorter timeout it throws instead. The
        /// wait is always bounded: a negative value (Timeout.InfiniteTimeSpan
        /// included) makes Create / Open throw an ArgumentException
        /// (ArgumentOutOfRangeException, or InvalidArgumentException for
        /// InfiniteTimeSpan). Unix only: on Windows a name is never busy for
        /// Open.</summary>
        public TimeSpan? BusyTimeout { get; set; }

        public SharedMemoryOptions()
        {
            Access = MemoryAccess.ReadWrite;
        }

        private MappingOptionsHandle Make()
        {
            MappingOptionsHandle o;
            Native.Check(Native.ml_mapping_options_new(out o));
            try
            {
                Native.Check(Native.ml_mapping_options_set_size(o, checked((ulong)Capacity)));
                Native.Check(Native.ml_mapping_options_set_access(o, (int)Access));
                if (Mode != 0) Native.Check(Native.ml_mapping_options_set_mode(o, Mode));
                Native.Check(Native.ml_mapping_options_set_persistent(o, Persistent ? 1 : 0));
                Native.Check(Native.ml_mapping_options_set_allow_foreign_owner(o, AllowForeignOwner ? 1 : 0));
                Native.Check(Native.ml_mapping_options_set_populate(o, Populate ? 1 : 0));
                Native.Check(Native.ml_mapping_options_set_lock_in_memory(o, LockInMemory ? 1 : 0));
                Native.Check(Native.ml_mapping_options_set_huge_pages(o, HugePages ? 1 : 0));
                if (File != null) Native.Check(Native.ml_mapping_options_set_file(o, Native.Utf8z(File)));
                if (BusyTimeout.HasValue)
                    Native.Check(Native.ml_mapping_options_set_busy_timeout(o, Native.Millis(BusyTimeout.Value)));
            }
            catch
            {
                o.Dispose();
                throw;
            }
            return o;
        }

        /// <summary>Creates the mapping; AlreadyExistsException if the name
        /// is taken.</summary>
        public SharedMemory Create(string name)
        {
            using (var o = Make())
            {
                MappingHandle h;
                Native.Check(Native.ml_mapping_options_create(o, Native.Utf8z(name), out h));
                return SharedMemory.Wrap(h);
            }
        }

        /// <summary>Opens an existing mapping; NotFoundException if there is
        /// none, AccessDeniedException (ForeignOwner) if another user made it
        /// and AllowForeignOwner is not set.</summary>
        public SharedMemory Open(string name)
        {
            using (var o = Make())
            {
                MappingHandle h;
                Native.Check(Native.ml_mapping_options_open(o, Native.Utf8z(name), out h));
                return SharedMemory.Wrap(h);
            }
        }

        /// <summary>Opens the mapping, or creates it; `createdNew` says which.</summary>
        public SharedMemory CreateOrOpen(string name, out bool createdNew)
        {
            using (var o = Make())
            {
                MappingHandle h;
                int created;
                Native.Check(Native.ml_mapping_options_open_or_create(o, Native.Utf8z(name), out h, out created));
                createdNew = created != 0;
                return SharedMemory.Wrap(h);
            }
        }
    }

    /// <summary>One writer publishes snapshots of a blittable struct `T`;
    /// readers in any process copy them whole, never torn (the same bytes as
    /// Rust's SeqLock&lt;[u8; N]&gt;). Its offset must be a multiple of 128.</summary>
    public sealed class SeqLock<T> : IDisposable where T : struct
    {
        private readonly SeqLockHandle handle;
        private static readonly int size = Marshal.SizeOf(typeof(T));

        private SeqLock(SeqLockHandle handle) { this.handle = handle; }

        private static void Pinned(T[] one, Action<IntPtr> use)
        {
            var gc = GCHandle.Alloc(one, GCHandleType.Pinned);
            try { use(gc.AddrOfPinnedObject()); }
            finally { gc.Free(); }
        }

        /// <summary>Makes the bytes at `offset` a seqlock holding `initial`.</summary>
        public static SeqLock<T> Init(SharedMemory mapping, long offset, T initial)
        {
            SeqLockHandle h = null;
            Pinned(new[] { initial }, p =>
                Native.Check(Native.ml_seqlock_init(mapping.Handle, checked((ulong)offset), p, (UIntPtr)size, out h)));
            return new SeqLock<T>(h);
        }

        /// <summary>Opens the seqlock that Init made (read-only mappings read only).</summary>
        public static SeqLock<T> Open(SharedMemory mapping, long offset)
        {
            SeqLockHandle h;
            Native.Check(Native.ml_seqlock_open(mapping.Handle, checked((ulong)offset), (UIntPtr)size, out h));
            return new SeqLock<T>(h);
        }

        /// <summary>Publishes `value`; one writer at a time.</summary>
        public void Write(T value)
        {
            Pinned(new[] { value }, p => Native.Check(Native.ml_seqlock_write(handle, p, (UIntPtr)size)));
        }

        /// <summary>A snapshot, or false if none could be taken within
        /// `timeout` (a writer died mid-write).</summary>
        public bool TryRead(TimeSpan timeout, out T value)
        {
            var one = new T[1];
            bool ok = false;
            Pinned(one, p =>
            {
                int r = Native.ml_seqlock_read(handle, p, (UIntPtr)size, Native.Millis(timeout));
                if (r == (int)ErrorCode.Timeout || r == (int)ErrorCode.Empty) return;
                Native.Check(r);
                ok = true;
            });
            value = one[0];
            return ok;
        }

        /// <summary>A snapshot, waiting while writes overlap.</summary>
        public T Read()
        {
            T value;
            TryRead(Timeout.InfiniteTimeSpan, out value);
            return value;
        }

        /// <summary>Completed writes so far.</summary>
        public ulong Version
        {
            get { ulong v; Native.Check(Native.ml_seqlock_version(handle, out v)); return v; }
        }

        public void Dispose() { handle.Dispose(); }
    }

    /// <summary>A robust mutex in a mapping (128 bytes at a 128-aligned
    /// offset): the article's "others must not read while one writes",
    /// surviving its owner's kill -9. The lock belongs to the process.</summary>
    public sealed class RobustMutex : IDisposable
    {
        /// <summary>The bytes a mutex takes (and the alignment it needs).</summary>
        public const int Size = 128;

        private readonly MutexHandle handle;

        private RobustMutex(MutexHandle handle) { this.handle = handle; }

        /// <summary>Makes the bytes at `offset` a new, unlocked mutex. Once,
        /// before others open it.</summary>
        public static RobustMutex Init(SharedMemory mapping, long offset)
        {
            MutexHandle h;
            Native.Check(Native.ml_mutex_init(mapping.Handle, checked((ulong)offset), out h));
            return new RobustMutex(h);
        }

        /// <summary>Opens the mutex that Init made at `offset` (usually in
        /// another process).</summary>
        public static RobustMutex Open(SharedMemory mapping, long offset)
        {
            MutexHandle h;
            Native.Check(Native.ml_mutex_open(mapping.Handle, checked((ulong)offset), out h));
            return new RobustMutex(h);
        }

        /// <summary>Locks, waiting up to `timeout` (Timeout.InfiniteTimeSpan:
        /// forever); false when the deadline passed. `ownerDied`: the
        /// previous owner died holding it; repair the data and call
        /// MarkConsistent before Unlock, or the mutex becomes not
        /// recoverable (MemlinkException, ErrorCode.NotRecoverable).</summary>
        public bool Lock(TimeSpan timeout, out bool ownerDied)
        {
            int died;
            bool locked = Native.CheckOr(Native.ml_mutex_lock(handle, Native.Millis(timeout), out died), ErrorCode.Timeout);
            ownerDied = locked && died != 0;
            return locked;
        }

        /// <summary>Declares the protected data repaired after ownerDied.</summary>
        public void MarkConsistent() { Native.Check(Native.ml_mutex_mark_consistent(handle)); }

        /// <summary>Unlocks.</summary>
        public void Unlock() { Native.Check(Native.ml_mutex_unlock(handle)); }

        /// <summary>Closes the handle (unlocking, if this handle holds the lock).</summary>
        public void Dispose() { handle.Dispose(); }
    }

    /// <summary>A mapped range (MemoryMappedViewAccessor). Other processes
    /// may write it at any time: reads and writes copy and check bounds.</summary>
    public sealed class SharedMemoryView : IDisposable
    {
        private readonly ViewHandle handle;
        private readonly long capacity;

        internal SharedMemoryView(ViewHandle handle)
        {
            this.handle = handle;
            UIntPtr len;
            Native.Check(Native.ml_view_len(handle, out len));
            capacity = checked((long)len.ToUInt64());
        }

        /// <summary>The view's length in bytes.</summary>
        public long Capacity { get { return capacity; } }

        /// <summary>The first byte's address, valid until Dispose. For
        /// protocols that say who writes when; prefer the copying calls.</summary>
        public IntPtr Pointer
        {
            get
            {
                IntPtr p;
                Native.Check(Native.ml_view_ptr(handle, out p));
                return p;
            }
        }

        /// <summary>Copies `count` bytes at `position` into `array[offset..]`;
        /// returns `count`.</summary>
        public int ReadArray(long position, byte[] array, int offset, int count)
        {
            Native.CheckRange(array, offset, count);
            var gc = GCHandle.Alloc(array, GCHandleType.Pinned);
            try
            {
                IntPtr at = IntPtr.Add(gc.AddrOfPinnedObject(), offset);
                Native.Check(Native.ml_view_read(handle, checked((UIntPtr)(ulong)position), at, (UIntPtr)count));
            }
            finally
            {
                gc.Free();
            }
            return count;
        }

        /// <summary>Copies `array[offset..offset+count]` to `position`.</summary>
        public void WriteArray(long position, byte[] array, int offset, int count)
        {
            Native.CheckRange(array, offset, count);
            var gc = GCHandle.Alloc(array, GCHandleType.Pinned);
            try
            {
                IntPtr at = IntPtr.Add(gc.AddrOfPinnedObject(), offset);
                Native.Check(Native.ml_view_write(handle, checked((UIntPtr)(ulong)position), at, (UIntPtr)count));
            }
            finally
            {
                gc.Free();
            }
        }

        /// <summary>`count` bytes at `position`, as a new array.</summary>
        public byte[] Read(long position, int count)
        {
            var bytes = new byte[count];
            ReadArray(position, bytes, 0, count);
            return bytes;
        }

        /// <summary>Writes all of `data` at `position`.</summary>
        public void Write(long position, byte[] data)
        {
            WriteArray(position, data, 0, data.Length);
        }

#if MEMLINK_SPAN
        /// <summary>Fills `destination` from `position`.</summary>
        public unsafe void Read(long position, Span<byte> destination)
        {
            fixed (byte* p = &MemoryMarshal.GetReference(destination))
                Native.Check(Native.ml_view_read(handle, checked((UIntPtr)(ulong)position), (IntPtr)p, (UIntPtr)destination.Length));
        }

        /// <summary>Writes `source` at `position`.</summary>
        public unsafe void Write(long position, ReadOnlySpan<byte> source)
        {
            fixed (byte* p = &MemoryMarshal.GetReference(source))
                Native.Check(Native.ml_view_write(handle, checked((UIntPtr)(ulong)position), (IntPtr)p, (UIntPtr)source.Length));
        }

        /// <summary>`length` bytes from `position`, in place, to read and
        /// write (no copy). A read-only view throws AccessDeniedException
        /// (AccessMismatch): use GetReadOnlySpan. Valid until Dispose; the
        /// bytes are shared with other processes, so synchronise access.</summary>
        public Span<byte> GetSpan(long position, int length)
        {
            if (!CanWrite)
                throw new AccessDeniedException(ErrorCode.AccessMismatch, "a read-only view has no writable span: use GetReadOnlySpan");
            return SpanAt(position, length);
        }

        /// <summary>`length` bytes from `position`, in place, to read.</summary>
        public ReadOnlySpan<byte> GetReadOnlySpan(long position, int length)
        {
            return SpanAt(position, length);
        }

        /// <summary>The whole view as a writable span (GetSpan(0, Capacity)).</summary>
        public Span<byte> AsSpan() { return GetSpan(0, checked((int)capacity)); }

        /// <summary>The whole view as a read-only span.</summary>
        public ReadOnlySpan<byte> AsReadOnlySpan() { return GetReadOnlySpan(0, checked((int)capacity)); }

        private unsafe Span<byte> SpanAt(long position, int length)
        {
            if (position < 0 || length < 0 || position > capacity || length > capacity - position)
                throw new MemlinkException(ErrorCode.OutOfRange, length + " bytes at " + position + " pass the view's end (" + capacity + " bytes)");
            return new Span<byte>((byte*)Pointer + position, length);
        }
#endif

        /// <summary>Copies a `T` (a blittable struct: primitives and
        /// structs of them) from `position` (UnmanagedMemoryAccessor.Read).</summary>
        public void Read<T>(long position, out T structure) where T : struct
        {
            var one = new T[1];
            ReadArray(position, one, 0, 1);
            structure = one[0];
        }

        /// <summary>Copies `structure` to `position`.</summary>
        public void Write<T>(long position, ref T structure) where T : struct
        {
            var one = new T[] { structure };
            WriteArray(position, one, 0, 1);
        }

        /// <summary>Copies `count` `T`s from `position` into
        /// `array[offset..]`; returns `count`.</summary>
        public int ReadArray<T>(long position, T[] array, int offset, int count) where T : struct
        {
            Pinned(array, offset, count, (at, bytes) =>
                Native.Check(Native.ml_view_read(handle, checked((UIntPtr)(ulong)position), at, bytes)));
            return count;
        }

        /// <summary>Copies `array[offset..offset+count]` to `position`.</summary>
        public void WriteArray<T>(long position, T[] array, int offset, int count) where T : struct
        {
            Pinned(array, offset, count, (at, bytes) =>
                Native.Check(Native.ml_view_write(handle, checked((UIntPtr)(ulong)position), at, bytes)));
        }

        // Pins `array` (only blittable element types can be pinned, and for
        // them Marshal.SizeOf is the managed size) and hands the range over.
        private static void Pinned<T>(T[] array, int offset, int count, Action<IntPtr, UIntPtr> use) where T : struct
        {
            if (array == null) throw new ArgumentNullException("array");
            if (offset < 0 || count < 0 || offset > array.Length - count)
                throw new ArgumentOutOfRangeException("offset/count", "offset " + offset + " + count " + count + " is outside an array of " + array.Length);
            int size = Marshal.SizeOf(typeof(T));
            var gc = GCHandle.Alloc(array, GCHandleType.Pinned);
            try
            {
                IntPtr at = new IntPtr(gc.AddrOfPinnedObject().ToInt64() + (long)offset * size);
                use(at, (UIntPtr)checked((ulong)count * (ulong)size));
            }
            finally
            {
                gc.Free();
            }
        }

        private T Get<T>(long position) where T : struct { T v; Read(position, out v); return v; }
        private void Put<T>(long position, T value) where T : struct { Write(position, ref value); }

        public bool ReadBoolean(long position) { return Get<byte>(position) != 0; }
        public byte ReadByte(long position) { return Get<byte>(position); }
        public sbyte ReadSByte(long position) { return Get<sbyte>(position); }
        public char ReadChar(long position) { return (char)Get<ushort>(position); }
        public short ReadInt16(long position) { return Get<short>(position); }
        public ushort ReadUInt16(long position) { return Get<ushort>(position); }
        public int ReadInt32(long position) { return Get<int>(position); }
        public uint ReadUInt32(long position) { return Get<uint>(position); }
        public long ReadInt64(long position) { return Get<long>(position); }
        public ulong ReadUInt64(long position) { return Get<ulong>(position); }
        public float ReadSingle(long position) { return Get<float>(position); }
        public double ReadDouble(long position) { return Get<double>(position); }

        public void Write(long position, bool value) { Put<byte>(position, (byte)(value ? 1 : 0)); }
        public void Write(long position, byte value) { Put(position, value); }
        public void Write(long position, sbyte value) { Put(position, value); }
        public void Write(long position, char value) { Put<ushort>(position, value); }
        public void Write(long position, short value) { Put(position, value); }
        public void Write(long position, ushort value) { Put(position, value); }
        public void Write(long position, int value) { Put(position, value); }
        public void Write(long position, uint value) { Put(position, value); }
        public void Write(long position, long value) { Put(position, value); }
        public void Write(long position, ulong value) { Put(position, value); }
        public void Write(long position, float value) { Put(position, value); }
        public void Write(long position, double value) { Put(position, value); }

        /// <summary>Whether the view can be read / written
        /// (UnmanagedMemoryAccessor.CanRead / CanWrite).</summary>
        public bool CanRead { get { return true; } }
        public bool CanWrite
        {
            get { int a; Native.Check(Native.ml_view_access(handle, out a)); return a != (int)MemoryAccess.ReadOnly; }
        }

        /// <summary>Acquire load of a 4-byte-aligned uint.</summary>
        public uint ReadUInt32Acquire(long position)
        {
            uint v;
            Native.Check(Native.ml_view_load_u32(handle, checked((UIntPtr)(ulong)position), out v));
            return v;
        }

        /// <summary>Release store of a 4-byte-aligned uint.</summary>
        public void WriteUInt32Release(long position, uint value)
        {
            Native.Check(Native.ml_view_store_u32(handle, checked((UIntPtr)(ulong)position), value));
        }

        /// <summary>Acquire load of an 8-byte-aligned ulong.</summary>
        public ulong ReadUInt64Acquire(long position)
        {
            ulong v;
            Native.Check(Native.ml_view_load_u64(handle, checked((UIntPtr)(ulong)position), out v));
            return v;
        }

        /// <summary>Release store of an 8-byte-aligned ulong.</summary>
        public void WriteUInt64Release(long position, ulong value)
        {
            Native.Check(Native.ml_view_store_u64(handle, checked((UIntPtr)(ulong)position), value));
        }

        /// <summary>Writes changes back to a backing file and waits
        /// (FlushViewOfFile); nothing to do for memory-backed mappings.</summary>
        public void Flush()
        {
            Native.Check(Native.ml_view_flush(handle));
        }

        /// <summary>Writes back `count` bytes from `position` and waits.</summary>
        public void Flush(long position, long count)
        {
            Native.Check(Native.ml_view_flush_range(handle, checked((UIntPtr)(ulong)position), checked((UIntPtr)(ulong)count)));
        }

        /// <summary>Starts writing changes back without waiting.</summary>
        public void FlushAsync()
        {
            Native.Check(Native.ml_view_flush_async(handle));
        }

        public void Dispose()
        {
            handle.Dispose();
        }
    }

    /// <summary>A named event, shaped like EventWaitHandle: the article's
    /// "data is ready" message, across processes, on Linux too.</summary>
    public sealed class NamedEvent : IDisposable
    {
        private readonly EventHandle handle;

        private NamedEvent(EventHandle handle)
        {
            this.handle = handle;
        }

        internal EventHandle NativeHandle { get { return handle; } }

        private static int Kind(EventResetMode mode)
        {
            return mode == EventResetMode.ManualReset ? 2 : 1;
        }

        public static NamedEvent Create(string name, EventResetMode mode)
        {
            EventHandle h;
            Native.Check(Native.ml_event_create(Native.Utf8z(name), Kind(mode), out h));
            return new NamedEvent(h);
        }

        public static NamedEvent OpenExisting(string name)
        {
            EventHandle h;
            Native.Check(Native.ml_event_open(Native.Utf8z(name), out h));
            return new NamedEvent(h);
        }

        public static NamedEvent CreateOrOpen(string name, EventResetMode mode, out bool createdNew)
        {
            EventHandle h;
            int created;
            Native.Check(Native.ml_event_open_or_create(Native.Utf8z(name), Kind(mode), out h, out created));
            createdNew = created != 0;
            return new NamedEvent(h);
        }

        public void Set() { Native.Check(Native.ml_event_set(handle)); }
        public void Reset() { Native.Check(Native.ml_event_reset(handle)); }
        public void NotifyOne() { Native.Check(Native.ml_event_notify_one(handle)); }
        public void NotifyAll() { Native.Check(Native.ml_event_notify_all(handle)); }

        public bool IsSet
        {
            get
            {
                int v;
                Native.Check(Native.ml_event_is_set(handle, out v));
                return v != 0;
            }
        }

        /// <summary>Waits until released.</summary>
        public void WaitOne()
        {
            Native.Check(Native.ml_event_wait(handle, -1));
        }

        /// <summary>Waits until released or `timeout` passes (false).</summary>
        /// <summary>Waits without blocking the caller: true when the event
        /// released this wait (an auto-reset event's signal is taken, as
        /// WaitOne takes it), false when `timeout` passed
        /// (Timeout.InfiniteTimeSpan: never); a cancelled token ends it at
        /// once with OperationCanceledException and takes no signal. Waited
        /// for, with every pending Receiver.ReceiveAsync, by the one
        /// background thread of the process on one WaitSet (no polling).
        /// Several WaitAsync on one event are released one per signal, in
        /// the order they were started (a manual-reset event releases them
        /// all while it stays set).</summary>
        public System.Threading.Tasks.Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken = default(CancellationToken))
        {
            return AsyncReceives.StartEvent(this, Native.Millis(timeout), cancellationToken);
        }

        /// <summary>WaitAsync with no deadline.</summary>
        public System.Threading.Tasks.Task<bool> WaitAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            return WaitAsync(Timeout.InfiniteTimeSpan, cancellationToken);
        }

        public bool WaitOne(TimeSpan timeout)
        {
            return Native.CheckOr(Native.ml_event_wait(handle, Native.Millis(timeout)), ErrorCode.Timeout);
        }

        /// <summary>Closes the event; a pending WaitAsync ends with
        /// ObjectDisposedException.</summary>
        public void Dispose()
        {
            AsyncReceives.Forget(this);
            handle.Dispose();
        }
    }

    /// <summary>Options for creating and opening channels.</summary>
    public sealed class ChannelOptions : IDisposable
    {
        internal readonly ChannelOptionsHandle Handle;

        public ChannelOptions()
        {
            Native.Check(Native.ml_channel_options_new(out Handle));
        }

        public ChannelOptions Kind(ChannelKind kind) { Native.Check(Native.ml_channel_options_set_kind(Handle, (int)kind)); return this; }
        public ChannelOptions Capacity(ulong bytes) { Native.Check(Native.ml_channel_options_set_capacity(Handle, bytes)); return this; }
        public ChannelOptions MaxMessage(uint bytes) { Native.Check(Native.ml_channel_options_set_max_message(Handle, bytes)); return this; }
        public ChannelOptions MaxSenders(uint n) { Native.Check(Native.ml_channel_options_set_max_senders(Handle, n)); return this; }
        public ChannelOptions MaxReceivers(uint n) { Native.Check(Native.ml_channel_options_set_max_receivers(Handle, n)); return this; }
        public ChannelOptions Lossy(bool lossy) { Native.Check(Native.ml_channel_options_set_lossy(Handle, lossy ? 1 : 0)); return this; }
        public ChannelOptions Wait(WaitStrategy strategy, uint spinMicros = 50) { Native.Check(Native.ml_channel_options_set_wait(Handle, (int)strategy, spinMicros)); return this; }
        public ChannelOptions Mode(uint mode) { Native.Check(Native.ml_channel_options_set_mode(Handle, mode)); return this; }
        public ChannelOptions Persistent(bool persistent) { Native.Check(Native.ml_channel_options_set_persistent(Handle, persistent ? 1 : 0)); return this; }
        public ChannelOptions AllowForeignOwner(bool allow) { Native.Check(Native.ml_channel_options_set_allow_foreign_owner(Handle, allow ? 1 : 0)); return this; }

        internal static ChannelOptionsHandle Of(ChannelOptions options)
        {
            return options != null ? options.Handle : Null;
        }

        private static readonly ChannelOptionsHandle Null = new ChannelOptionsHandle();

        public void Dispose()
        {
            Handle.Dispose();
        }
    }

    /// <summary>Room for one message, lent by Sender.Loan: fill it, then
    /// Commit. Disposing it uncommitted (or disposing the Sender) publishes
    /// nothing. Use it in a `using` block: until it ends the Sender refuses
    /// other calls (ErrorCode.State).</summary>
    public sealed class SendLoan : Lent
    {
        internal SendLoan(SenderHandle sender, IntPtr pointer, int length) : base(sender, pointer, length) { }

        internal override string What { get { return "loan"; } }

        internal override int Drop(IntPtr sender) { return Native.ml_sender_abandon(sender); }

        /// <summary>Copies `source[offset..offset+count]` to `position`;
        /// ObjectDisposedException once the loan ended.</summary>
        public void Write(int position, byte[] source, int offset, int count)
        {
            Native.CheckRange(source, offset, count);
            if (position < 0 || position > length - count)
                throw new ArgumentOutOfRangeException("position", "writing " + count + " bytes at " + position + " leaves a loan of " + length);
            Use(() => Marshal.Copy(source, offset, IntPtr.Add(pointer, position), count));
        }

        public void Write(int position, byte[] source)
        {
            Write(position, source, 0, source.Length);
        }

#if MEMLINK_SPAN
        /// <summary>The loaned bytes, to write in place. Do not keep the
        /// span past Commit or Dispose.</summary>
        public unsafe Span<byte> Span { get { ThrowIfEnded(); return new Span<byte>((void*)pointer, length); } }
#endif

        /// <summary>Publishes the first `count` bytes (all by default).</summary>
        public void Commit(int count = -1)
        {
            if (count > length) throw new ArgumentOutOfRangeException("count", "committing " + count + " bytes of a loan of " + length);
            var n = (UIntPtr)(count < 0 ? length : count);
            End(sender => Native.ml_sender_commit(sender, n), "committed");
        }

        /// <summary>Drops the loan, publishing nothing.</summary>
        public void Abandon()
        {
            End(sender => Native.ml_sender_abandon(sender), "abandoned");
        }
    }

    /// <summary>The sending end of a channel. One call at a time.</summary>
    public sealed class Sender : IDisposable
    {
        private readonly SenderHandle handle;
        private readonly WeakReference loan = new WeakReference(null);

        internal SenderHandle NativeHandle { get { return handle; } }

        private Sender(SenderHandle handle)
        {
            this.handle = handle;
        }

        /// <summary>Creates the channel and attaches as its sender.</summary>
        public static Sender Create(string name, ChannelOptions options = null)
        {
            SenderHandle h;
            Native.Check(Native.ml_sender_create(Native.Utf8z(name), ChannelOptions.Of(options), out h));
            return new Sender(h);
        }

        /// <summary>Opens an existing channel as a sender.</summary>
        public static Sender Open(string name, ChannelOptions options = null)
        {
            SenderHandle h;
            Native.Check(Native.ml_sender_open(Native.Utf8z(name), ChannelOptions.Of(options), out h));
            return new Sender(h);
        }

        /// <summary>Sends `data[offset..offset+count]` as one message,
        /// waiting up to `timeout` for room (false if it passed).</summary>
        public bool Send(byte[] data, int offset, int count, TimeSpan timeout)
        {
            Native.CheckRange(data, offset, count);
            var gc = GCHandle.Alloc(data, GCHandleType.Pinned);
            try
            {
                IntPtr at = IntPtr.Add(gc.AddrOfPinnedObject(), offset);
                return Native.CheckOr(Native.ml_sender_send_timeout(handle, at, (UIntPtr)count, Native.Millis(timeout)), ErrorCode.Timeout);
            }
            finally
            {
                gc.Free();
            }
        }

        /// <summary>Sends all of `data`, waiting as long as it takes.</summary>
        public void Send(byte[] data)
        {
            Send(data, 0, data.Length, Timeout.InfiniteTimeSpan);
        }

        /// <summary>Sends `text` as UTF-8.</summary>
        public void Send(string text)
        {
            Send(Encoding.UTF8.GetBytes(text));
        }

        /// <summary>Sends if there is room now (false if full).</summary>
        public bool TrySend(byte[] data)
        {
            if (data == null) throw new ArgumentNullException("data");
            return Native.CheckOr(Native.ml_sender_try_send(handle, data, (UIntPtr)data.Length), ErrorCode.Full);
        }

#if MEMLINK_SPAN
        /// <summary>Sends `data`, waiting up to `timeout` (false if it passed).</summary>
        public unsafe bool Send(ReadOnlySpan<byte> data, TimeSpan timeout)
        {
            fixed (byte* p = &MemoryMarshal.GetReference(data))
                return Native.CheckOr(Native.ml_sender_send_timeout(handle, (IntPtr)p, (UIntPtr)data.Length, Native.Millis(timeout)), ErrorCode.Timeout);
        }
#endif

        /// <summary>Zero-copy: room for `length` bytes in the ring, waiting
        /// up to `timeout` (MemlinkTimeoutException).</summary>
        public SendLoan Loan(int length, TimeSpan timeout)
        {
            if (length < 0) throw new ArgumentOutOfRangeException("length");
            IntPtr p;
            Native.Check(Native.ml_sender_loan(handle, (UIntPtr)length, Native.Millis(timeout), out p));
            return Lend(new SendLoan(handle, p, length));
        }

        public SendLoan Loan(int length)
        {
            return Loan(length, Timeout.InfiniteTimeSpan);
        }

        /// <summary>Room now, or null if the channel is full.</summary>
        public SendLoan TryLoan(int length)
        {
            if (length < 0) throw new ArgumentOutOfRangeException("length");
            IntPtr p;
            if (!Native.CheckOr(Native.ml_sender_try_loan(handle, (UIntPtr)length, out p), ErrorCode.Full)) return null;
            return Lend(new SendLoan(handle, p, length));
        }

        private SendLoan Lend(SendLoan l)
        {
            loan.Target = l;
            return l;
        }

        public bool IsConnected
        {
            get
            {
                int v;
                Native.Check(Native.ml_sender_is_connected(handle, out v));
                return v != 0;
            }
        }

        public int MaxMessage
        {
            get
            {
                UIntPtr n;
                Native.Check(Native.ml_sender_max_message(handle, out n));
                return checked((int)n.ToUInt64());
            }
        }

        /// <summary>Abandons an outstanding loan, then closes (once no
        /// other thread is inside a call on it).</summary>
        public void Dispose()
        {
            var l = loan.Target as SendLoan;
            if (l != null) l.Drop("abandoned when its Sender was disposed");
            handle.Dispose();
        }
    }

    /// <summary>A received message lent in place by Receiver.Borrow; its
    /// space goes back to the sender on Dispose (or when the Receiver is
    /// disposed). Use it in a `using` block: until it ends the Receiver
    /// refuses other calls (ErrorCode.State).</summary>
    public sealed class ReceivedMessage : Lent
    {
        internal ReceivedMessage(ReceiverHandle receiver, IntPtr pointer, int length) : base(receiver, pointer, length) { }

        internal override string What { get { return "message"; } }

        internal override int Drop(IntPtr receiver) { return Native.ml_receiver_release(receiver); }

        /// <summary>Copies the message into `destination[offset..]`;
        /// ObjectDisposedException once it was released.</summary>
        public void CopyTo(byte[] destination, int offset)
        {
            Native.CheckRange(destination, offset, length);
            Use(() => Marshal.Copy(pointer, destination, offset, length));
        }

        public byte[] ToArray()
        {
            var bytes = new byte[length];
            CopyTo(bytes, 0);
            return bytes;
        }

#if MEMLINK_SPAN
        /// <summary>The message in place. Do not keep the span past Dispose.</summary>
        public unsafe ReadOnlySpan<byte> Span { get { ThrowIfEnded(); return new ReadOnlySpan<byte>((void*)pointer, length); } }
#endif
    }

    /// <summary>The receiving end of a channel. One call at a time.
    /// Receive throws DisconnectedException once the sender is gone and
    /// everything it sent was received.</summary>
    public sealed class Receiver : IDisposable
    {
        private readonly ReceiverHandle handle;
        private readonly byte[] buffer;
        private readonly WeakReference message = new WeakReference(null);
        // 1 while a call uses `buffer`: the C ABI's one call at a time,
        // kept across the copy out of it too.
        private int busy;

        internal ReceiverHandle NativeHandle { get { return handle; } }

        private Receiver(ReceiverHandle handle)
        {
            this.handle = handle;
            UIntPtr max;
            Native.Check(Native.ml_receiver_max_message(handle, out max));
            buffer = new byte[checked((int)max.ToUInt64())];
        }

        public static Receiver Create(string name, ChannelOptions options = null)
        {
            ReceiverHandle h;
            Native.Check(Native.ml_receiver_create(Native.Utf8z(name), ChannelOptions.Of(options), out h));
            return new Receiver(h);
        }

        public static Receiver Open(string name, ChannelOptions options = null)
        {
            ReceiverHandle h;
            Native.Check(Native.ml_receiver_open(Native.Utf8z(name), ChannelOptions.Of(options), out h));
            return new Receiver(h);
        }

        public int MaxMessage { get { return buffer.Length; } }

        /// <summary>The next message, waiting as long as it takes.</summary>
        public byte[] Receive()
        {
            byte[] message;
            TryReceive(Timeout.InfiniteTimeSpan, out message);
            return message;
        }

        /// <summary>The next message, waiting up to `timeout` (false if it
        /// passed).</summary>
        /// <summary>Receives without blocking the caller: the next message,
        /// or null when `timeout` passed (Timeout.InfiniteTimeSpan: never);
        /// DisconnectedException when the sender is gone; a cancelled token
        /// ends it at once with OperationCanceledException. One thread of the
        /// process waits for every pending ReceiveAsync at once on a
        /// WaitSet (no polling, no thread per call). While one is pending
        /// the receiver is inside a call: other calls on it throw
        /// MemlinkException (State), and so does a second ReceiveAsync.</summary>
        public System.Threading.Tasks.Task<byte[]> ReceiveAsync(TimeSpan timeout, CancellationToken cancellationToken = default(CancellationToken))
        {
            return AsyncReceives.Start(this, Native.Millis(timeout), cancellationToken);
        }

        /// <summary>ReceiveAsync with no deadline.</summary>
        public System.Threading.Tasks.Task<byte[]> ReceiveAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            return ReceiveAsync(Timeout.InfiniteTimeSpan, cancellationToken);
        }

        public bool TryReceive(TimeSpan timeout, out byte[] message)
        {
            long ms = Native.Millis(timeout);
            Enter();
            try
            {
                UIntPtr len;
                int r = Native.ml_receiver_recv_timeout(handle, buffer, (UIntPtr)buffer.Length, out len, ms);
                return Copy(r, ErrorCode.Timeout, len, out message);
            }
            finally
            {
                Interlocked.Exchange(ref busy, 0);
            }
        }

        /// <summary>A message if one is waiting now.</summary>
        public bool TryReceive(out byte[] message)
        {
            Enter();
            try
            {
                UIntPtr len;
                int r = Native.ml_receiver_try_recv(handle, buffer, (UIntPtr)buffer.Length, out len);
                return Copy(r, ErrorCode.Empty, len, out message);
            }
            finally
            {
                Interlocked.Exchange(ref busy, 0);
            }
        }

        /// <summary>Takes `buffer`, or throws State as the C ABI does for a
        /// call made while another thread is inside one.</summary>
        private void Enter()
        {
            if (Interlocked.CompareExchange(ref busy, 1, 0) != 0)
                throw new MemlinkException(ErrorCode.State, "another thread is inside a call on this Receiver; an endpoint serves one call at a time");
        }

        private bool Copy(int r, ErrorCode nothing, UIntPtr len, out byte[] message)
        {
            message = null;
            if (!Native.CheckOr(r, nothing)) return false;
            message = new byte[(int)len.ToUInt64()];
            Buffer.BlockCopy(buffer, 0, message, 0, message.Length);
            return true;
        }

        /// <summary>Receives into `array[offset..offset+count]`, waiting up
        /// to `timeout`; returns the length, or -1 if the timeout passed. A
        /// message longer than `count` throws (BufferTooSmall) and stays for
        /// the next call.</summary>
        public int Receive(byte[] array, int offset, int count, TimeSpan timeout)
        {
            Native.CheckRange(array, offset, count);
            var gc = GCHandle.Alloc(array, GCHandleType.Pinned);
            try
            {
                UIntPtr len;
                IntPtr at = IntPtr.Add(gc.AddrOfPinnedObject(), offset);
                int r = Native.ml_receiver_recv_timeout(handle, at, (UIntPtr)count, out len, Native.Millis(timeout));
                return Native.CheckOr(r, ErrorCode.Timeout) ? (int)len.ToUInt64() : -1;
            }
            finally
            {
                gc.Free();
            }
        }

        /// <summary>Zero-copy: the next message in place, waiting up to
        /// `timeout` (MemlinkTimeoutException). Dispose it to give its
        /// space back.</summary>
        public ReceivedMessage Borrow(TimeSpan timeout)
        {
            IntPtr p;
            UIntPtr len;
            Native.Check(Native.ml_receiver_borrow(handle, Native.Millis(timeout), out p, out len));
            return Lend(new ReceivedMessage(handle, p, (int)len.ToUInt64()));
        }

        public ReceivedMessage Borrow()
        {
            return Borrow(Timeout.InfiniteTimeSpan);
        }

        /// <summary>A message in place if one is waiting now, else null.</summary>
        public ReceivedMessage TryBorrow()
        {
            IntPtr p;
            UIntPtr len;
            if (!Native.CheckOr(Native.ml_receiver_try_borrow(handle, out p, out len), ErrorCode.Empty)) return null;
            return Lend(new ReceivedMessage(handle, p, (int)len.ToUInt64()));
        }

        private ReceivedMessage Lend(ReceivedMessage m)
        {
            message.Target = m;
            return m;
        }

        public bool IsConnected
        {
            get
            {
                int v;
                Native.Check(Native.ml_receiver_is_connected(handle, out v));
                return v != 0;
            }
        }

        /// <summary>Lossy broadcast: messages lost since the last call.</summary>
        public ulong TakeMissed()
        {
            ulong n;
            Native.Check(Native.ml_receiver_take_missed(handle, out n));
            return n;
        }

        /// <summary>Releases an outstanding borrowed message, then closes
        /// (once no other thread is inside a call on it).</summary>
        public void Dispose()
        {
            var m = message.Target as ReceivedMessage;
            if (m != null) m.Drop("released when its Receiver was disposed");
            AsyncReceives.Forget(this);
            handle.Dispose();
        }
    }

    /// <summary>One ready source of a WaitSet: the token Add returned, and why.</summary>
    public struct ReadySource
    {
        public int Token;
        public Readiness Readiness;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeReady
    {
        public UIntPtr Token;
        public int Readiness;
    }

    /// <summary>One wait on many receivers, senders and deadlines
    /// (WaitHandle.WaitAny for channels; ml_waitset_*). Readiness is
    /// level-triggered. The set holds a reference on each endpoint's native
    /// handle until Clear or Dispose; while Wait runs, its endpoints are
    /// inside a call (other calls on them throw MemlinkException, State).
    /// One thread at a time.</summary>
    public sealed class WaitSet : IDisposable
    {
        private readonly WaitSetHandle handle;
        private readonly System.Collections.Generic.List<SafeHandle> held = new System.Collections.Generic.List<SafeHandle>();
        private NativeReady[] ready = new NativeReady[4];
        private int count;

        public WaitSet()
        {
            Native.Check(Native.ml_waitset_new(out handle));
        }

        /// <summary>Ready (Readable) when a message waits, Disconnected when
        /// the senders are gone; returns the source's token.</summary>
        public int Add(Receiver receiver)
        {
            if (receiver == null) throw new ArgumentNullException("receiver");
            return Hold(receiver.NativeHandle, raw =>
            {
                UIntPtr token;
                Native.Check(Native.ml_waitset_add_receiver(handle, raw, out token));
                return (int)token.ToUInt64();
            });
        }

        /// <summary>Ready (Writable) when a message of `length` bytes fits.</summary>
        public int Add(Sender sender, int length)
        {
            if (sender == null) throw new ArgumentNullException("sender");
            if (length < 0) throw new ArgumentOutOfRangeException("length");
            return Hold(sender.NativeHandle, raw =>
            {
                UIntPtr token;
                Native.Check(Native.ml_waitset_add_sender(handle, raw, (UIntPtr)length, out token));
                return (int)token.ToUInt64();
            });
        }

        /// <summary>Ready (Deadline) from `after` from now on.</summary>
        public int AddDeadline(TimeSpan after)
        {
            if (after < TimeSpan.Zero) throw new ArgumentOutOfRangeException("after");
            UIntPtr token;
            Native.Check(Native.ml_waitset_add_deadline(handle, (long)after.TotalMilliseconds, out token));
            count++;
            return (int)token.ToUInt64();
        }

        /// <summary>Ready (Tick) every `period` (1 ms or more), the first
        /// time one period from now; periods missed while nobody waited are
        /// reported once.</summary>
        public int AddInterval(TimeSpan period)
        {
            UIntPtr token;
            Native.Check(Native.ml_waitset_add_interval(handle, (long)period.TotalMilliseconds, out token));
            count++;
            return (int)token.ToUInt64();
        }

        /// <summary>Ready (Signaled) when the event is set or notified; the
        /// report takes an auto-reset event's signal, as
        /// WaitHandle.WaitAny does.</summary>
        public int Add(NamedEvent ev)
        {
            if (ev == null) throw new ArgumentNullException("ev");
            return Hold(ev.NativeHandle, raw =>
            {
                UIntPtr token;
                Native.Check(Native.ml_waitset_add_event(handle, raw, out token));
                return (int)token.ToUInt64();
            });
        }

        /// <summary>Ready (PeerDied) when one of the receiver's senders
        /// closes or dies (kill -9 included), once per departure; covers
        /// every sender attached since this call, one that attaches during
        /// a Wait or leaves between two included.</summary>
        public int AddPeerDeath(Receiver receiver)
        {
            if (receiver == null) throw new ArgumentNullException("receiver");
            return Hold(receiver.NativeHandle, raw =>
            {
                UIntPtr token;
                Native.Check(Native.ml_waitset_add_peer_death(handle, raw, IntPtr.Zero, out token));
                return (int)token.ToUInt64();
            });
        }

        /// <summary>As AddPeerDeath(Receiver), for the sender's receivers.</summary>
        public int AddPeerDeath(Sender sender)
        {
            if (sender == null) throw new ArgumentNullException("sender");
            return Hold(sender.NativeHandle, raw =>
            {
                UIntPtr token;
                Native.Check(Native.ml_waitset_add_peer_death(handle, IntPtr.Zero, raw, out token));
                return (int)token.ToUInt64();
            });
        }

        /// <summary>The number of sources.</summary>
        public int Count { get { return count; } }

        /// <summary>Removes every source (tokens start again at 0) and lets
        /// go of their endpoints.</summary>
        public void Clear()
        {
            Native.Check(Native.ml_waitset_clear(handle));
            ReleaseAll();
        }

        /// <summary>Every source ready once one is, in token order; empty
        /// when `timeout` passed first (Timeout.InfiniteTimeSpan: only the
        /// set's deadlines end the wait).</summary>
        public ReadySource[] Wait(TimeSpan timeout)
        {
            long ms = Native.Millis(timeout);
            if (ready.Length < count) ready = new NativeReady[count];
            UIntPtr n;
            if (!Native.CheckOr(Native.ml_waitset_wait(handle, ms, ready, (UIntPtr)ready.Length, out n), ErrorCode.Timeout))
                return new ReadySource[0];
            int got = Math.Min((int)n.ToUInt64(), ready.Length);
            var result = new ReadySource[got];
            for (int i = 0; i < got; i++)
                result[i] = new ReadySource { Token = (int)ready[i].Token.ToUInt64(), Readiness = (Readiness)ready[i].Readiness };
            return result;
        }

        public void Dispose()
        {
            handle.Dispose();
            ReleaseAll();
        }

        private int Hold(SafeHandle endpoint, Func<IntPtr, int> add)
        {
            bool added = false;
            endpoint.DangerousAddRef(ref added);
            try
            {
                int token = add(endpoint.DangerousGetHandle());
                held.Add(endpoint);
                count++;
                added = false;
                return token;
            }
            finally
            {
                if (added) endpoint.DangerousRelease();
            }
        }

        private void ReleaseAll()
        {
            foreach (var h in held) h.DangerousRelease();
            held.Clear();
            count = 0;
        }
    }

    /// <summary>Every pending Receiver.ReceiveAsync and
    /// NamedEvent.WaitAsync of the process, waited for by one background
    /// thread on one WaitSet, with a private channel of its own in the set
    /// to wake it when a wait is added or cancelled.</summary>
    internal static class AsyncReceives
    {
        private sealed class Pending
        {
            // One of the two, with its task.
            public Receiver Receiver;
            public System.Threading.Tasks.TaskCompletionSource<byte[]> Done;
            public NamedEvent Event;
            public System.Threading.Tasks.TaskCompletionSource<bool> EventDone;
            public long DeadlineTicks; // Stopwatch ticks; -1: none
            public CancellationToken Token;
            public CancellationTokenRegistration Registration;
            // An event wait's cancellation, done by the thread (which may
            // have taken the signal meanwhile: then the wait succeeds).
            public volatile bool Cancelled;

            public void Fail(Exception e)
            {
                if (Done != null) Done.TrySetException(e); else EventDone.TrySetException(e);
            }

            public void TimedOut()
            {
                if (Done != null) Done.TrySetResult(null); else EventDone.TrySetResult(false);
            }

            public void Cancel()
            {
                if (Done != null) Done.TrySetCanceled(Token); else EventDone.TrySetCanceled(Token);
            }
        }

        private static long Deadline(long timeoutMs)
        {
            return timeoutMs < 0 ? -1 : System.Diagnostics.Stopwatch.GetTimestamp() + timeoutMs * System.Diagnostics.Stopwatch.Frequency / 1000;
        }

        internal static System.Threading.Tasks.Task<bool> StartEvent(NamedEvent ev, long timeoutMs, CancellationToken token)
        {
            var done = new System.Threading.Tasks.TaskCompletionSource<bool>(System.Threading.Tasks.TaskCreationOptions.RunContinuationsAsynchronously);
            if (token.IsCancellationRequested)
            {
                done.SetCanceled();
                return done.Task;
            }
            var p = new Pending { Event = ev, EventDone = done, Token = token, DeadlineTicks = Deadline(timeoutMs) };
            lock (sync)
            {
                StartThread();
                pending.Add(p);
            }
            if (token.CanBeCanceled)
                p.Registration = token.Register(() => { p.Cancelled = true; Wake(); });
            Wake();
            return done.Task;
        }

        private static readonly object sync = new object();
        private static readonly System.Collections.Generic.List<Pending> pending = new System.Collections.Generic.List<Pending>();
        private static readonly object wakeSync = new object();
        private static Sender wakeSender;
        private static Receiver wakeReceiver;
        private static readonly byte[] one = new byte[1];
        private static volatile bool stopping;

        internal static System.Threading.Tasks.Task<byte[]> Start(Receiver receiver, long timeoutMs, CancellationToken token)
        {
            var done = new System.Threading.Tasks.TaskCompletionSource<byte[]>(System.Threading.Tasks.TaskCreationOptions.RunContinuationsAsynchronously);
            if (token.IsCancellationRequested)
            {
                done.SetCanceled();
                return done.Task;
            }
            var p = new Pending
            {
                Receiver = receiver,
                Done = done,
                Token = token,
                DeadlineTicks = Deadline(timeoutMs),
            };
            lock (sync)
            {
                foreach (var other in pending)
                    if (other.Receiver == receiver)
                        throw new MemlinkException(ErrorCode.State, "a ReceiveAsync is already pending on this Receiver; an endpoint serves one call at a time");
                StartThread();
                pending.Add(p);
            }
            if (token.CanBeCanceled)
                p.Registration = token.Register(() => { if (Take(p)) { p.Done.TrySetCanceled(token); Wake(); } });
            Wake();
            return done.Task;
        }

        /// <summary>The receiver is being disposed: its pending receive ends
        /// with ObjectDisposedException.</summary>
        internal static void Forget(Receiver receiver)
        {
            Pending found = null;
            lock (sync)
            {
                foreach (var p in pending)
                    if (p.Receiver == receiver) found = p;
                if (found != null) pending.Remove(found);
            }
            if (found == null) return;
            found.Registration.Dispose();
            found.Done.TrySetException(new ObjectDisposedException("Receiver", "the Receiver was disposed during ReceiveAsync"));
            Wake();
        }

        /// <summary>The event is being disposed: its pending waits end with
        /// ObjectDisposedException.</summary>
        internal static void Forget(NamedEvent ev)
        {
            Pending[] found;
            lock (sync)
            {
                found = pending.FindAll(p => p.Event == ev).ToArray();
                foreach (var p in found) pending.Remove(p);
            }
            if (found.Length == 0) return;
            foreach (var p in found)
            {
                p.Registration.Dispose();
                p.EventDone.TrySetException(new ObjectDisposedException("NamedEvent", "the NamedEvent was disposed during WaitAsync"));
            }
            Wake();
        }

        /// <summary>Removes `p` from the pending list; true for the one
        /// caller that did (it then completes p's task).</summary>
        private static bool Take(Pending p)
        {
            lock (sync) return pending.Remove(p);
        }

        private static void StartThread()
        {
            if (wakeReceiver != null) return;
            // A private channel; its name is removed at once (where the OS
            // lets it, the endpoints keep it alive), so nothing is left
            // behind when the process ends.
            string name = "memlink-cs-wake-" + System.Diagnostics.Process.GetCurrentProcess().Id + "-" + Guid.NewGuid().ToString("N");
            wakeSender = Sender.Create(name);
            wakeReceiver = Receiver.Open(name);
            try { SharedMemory.Remove(name); } catch (MemlinkException) { /* Windows: the name goes with the handles */ }
            var thread = new Thread(Run) { IsBackground = true, Name = "memlink async waits" };
            thread.Start();
            // The thread sleeps in native code, where the runtime cannot
            // stop it at exit: wake it and let it end first.
            AppDomain.CurrentDomain.ProcessExit += (sender, e) =>
            {
                stopping = true;
                Wake();
                thread.Join(TimeSpan.FromSeconds(5));
            };
        }

        private static void Wake()
        {
            lock (wakeSync) wakeSender.TrySend(one);
        }

        private static void Complete(Pending p, Action<Pending> how)
        {
            if (!Take(p)) return;
            p.Registration.Dispose();
            how(p);
        }

        private static void Run()
        {
            var set = new WaitSet();
            var byToken = new System.Collections.Generic.Dictionary<int, Pending>();
            var events = new System.Collections.Generic.HashSet<NamedEvent>();
            var drain = new byte[1];
            while (!stopping)
            {
                Pending[] now;
                lock (sync) now = pending.ToArray();
                set.Clear();
                byToken.Clear();
                events.Clear();
                int wake = set.Add(wakeReceiver);
                long ticks = System.Diagnostics.Stopwatch.GetTimestamp();
                foreach (var p in now)
                {
                    try
                    {
                        if (p.Event != null)
                        {
                            if (p.Cancelled)
                            {
                                Complete(p, q => q.Cancel());
                                continue;
                            }
                            // One source per event: its signal goes to
                            // the first waiter on it (the others wait on).
                            if (events.Add(p.Event)) byToken[set.Add(p.Event)] = p;
                        }
                        else
                        {
                            byToken[set.Add(p.Receiver)] = p;
                        }
                        if (p.DeadlineTicks >= 0)
                        {
                            long left = Math.Max(0, p.DeadlineTicks - ticks) * 1000 / System.Diagnostics.Stopwatch.Frequency;
                            byToken[set.AddDeadline(TimeSpan.FromMilliseconds(left))] = p;
                        }
                    }
                    catch (Exception e)
                    {
                        Complete(p, q => q.Fail(e));
                    }
                }
                ReadySource[] ready;
                try
                {
                    ready = set.Wait(Timeout.InfiniteTimeSpan);
                }
                catch (Exception e)
                {
                    // One endpoint is busy (a call on another thread) or
                    // broken: find which, alone, and fail only those.
                    set.Clear();
                    foreach (var p in now) Probe(set, p);
                    GC.KeepAlive(e);
                    continue;
                }
                set.Clear();
                foreach (var r in ready)
                {
                    if (r.Token == wake)
                    {
                        while (wakeReceiver.TryReceive(out drain)) { }
                        continue;
                    }
                    Pending p;
                    if (!byToken.TryGetValue(r.Token, out p)) continue;
                    if (r.Readiness == Readiness.Signaled)
                    {
                        // The wait took the signal: it is this waiter's
                        // even if it was cancelled meanwhile.
                        Complete(p, q => q.EventDone.TrySetResult(true));
                        continue;
                    }
                    if (r.Readiness == Readiness.Deadline)
                    {
                        Complete(p, q => q.TimedOut());
                        continue;
                    }
                    ReceiveFor(p);
                }
            }
        }

        private static void ReceiveFor(Pending p)
        {
            // Owned first, so a cancellation meanwhile cannot lose a message
            // already received.
            if (!Take(p)) return;
            byte[] message;
            try
            {
                if (!p.Receiver.TryReceive(out message))
                {
                    // Taken meanwhile: wait again, unless cancelled since.
                    lock (sync) pending.Add(p);
                    if (p.Token.IsCancellationRequested && Take(p)) p.Done.TrySetCanceled(p.Token);
                    return;
                }
            }
            catch (Exception e)
            {
                p.Registration.Dispose();
                p.Done.TrySetException(e);
                return;
            }
            p.Registration.Dispose();
            p.Done.TrySetResult(message);
        }

        private static void Probe(WaitSet set, Pending p)
        {
            try
            {
                // An event is not entered: only a receiver can be busy.
                if (p.Receiver == null) return;
                set.Add(p.Receiver);
                set.Wait(TimeSpan.Zero);
            }
            catch (Exception e)
            {
                Complete(p, q => q.Fail(e));
            }
            finally
            {
                set.Clear();
            }
        }
    }
}
